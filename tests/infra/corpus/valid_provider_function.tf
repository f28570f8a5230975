# Provider-defined functions (Terraform >= 1.8), from the built-in provider.
terraform {
  required_providers {
    terraform = {
      source = "terraform.io/builtin/terraform"
    }
  }
}

output "tfvars" {
  value = provider::terraform::encode_tfvars({ workload = "fcst", size = 2 })
}
