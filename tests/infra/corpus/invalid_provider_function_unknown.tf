terraform {
  required_providers {
    terraform = {
      source = "terraform.io/builtin/terraform"
    }
  }
}

output "tfvars" {
  value = provider::terraform::no_such_function({ workload = "fcst" })
}
