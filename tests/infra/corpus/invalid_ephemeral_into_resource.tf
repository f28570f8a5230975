# An ephemeral value cannot be stored in a resource argument.
variable "session_label" {
  type      = string
  ephemeral = true
  default   = "night-shift"
}

resource "terraform_data" "stored" {
  input = var.session_label
}
