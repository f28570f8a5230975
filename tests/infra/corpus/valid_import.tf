# import (Terraform >= 1.5), also with for_each (>= 1.7); `to` is an address, `id` an expression.
variable "adopt" {
  type    = set(string)
  default = ["a", "b"]
}

resource "terraform_data" "adopted" {}

resource "terraform_data" "many" {
  for_each = var.adopt
}

import {
  to = terraform_data.adopted
  id = "adopted-1"
}

import {
  for_each = var.adopt
  to       = terraform_data.many[each.key]
  id       = each.key
}
