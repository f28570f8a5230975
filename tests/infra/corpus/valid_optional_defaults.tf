# optional() attributes with defaults in a type constraint (Terraform >= 1.3).
variable "settings" {
  type = object({
    name = string
    size = optional(number, 2)
    tags = optional(map(string), {})
  })
  default = { name = "lake" }
}

output "size" {
  value = var.settings.size
}
