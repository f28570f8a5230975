# Provider-free on purpose: the naming convention is pure Terraform, so `terraform test` runs it
# offline (tests/naming.tftest.hcl) and no provider pin belongs here.
terraform {
  required_version = ">= 1.9, < 2.0"
}
