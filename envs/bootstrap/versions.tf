# Pins live here and are the same in every module, infra/ and both roots (checked by tests/infra).
terraform {
  required_version = ">= 1.9, < 2.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 5.10.0, < 6.0.0"
    }
    # GitHub.Network/networkSettings, which azurerm has no resource for.
    azapi = {
      source  = "Azure/azapi"
      version = ">= 2.5.0, < 3.0.0"
    }
  }
}
