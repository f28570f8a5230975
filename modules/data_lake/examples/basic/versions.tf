# A root of its own: the module's pins (the same in every directory), and the provider configured.
terraform {
  required_version = ">= 1.9, < 2.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 5.10.0, < 6.0.0"
    }
  }
}

provider "azurerm" {
  features {}
}
