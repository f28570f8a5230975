# Provider-free, as the module: the example plans offline.
terraform {
  required_version = ">= 1.9, < 2.0"
}
