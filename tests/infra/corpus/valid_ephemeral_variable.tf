# Ephemeral input variables (Terraform >= 1.10) may flow into other ephemeral contexts.
variable "session_label" {
  type      = string
  ephemeral = true
  default   = "night-shift"
}

locals {
  header = "label: ${var.session_label}"
}
