# Pins live here and are the same in every module, infra/ and both roots (checked by tests/infra).
terraform {
  required_version = ">= 1.9, < 2.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 5.10.0, < 6.0.0"
    }
    # Approves the factory's managed private endpoints on their targets (main.tf); azurerm has
    # no resource for a private endpoint connection's state.
    azapi = {
      source  = "Azure/azapi"
      version = ">= 2.5.0, < 3.0.0"
    }
    # Waits for a managed private endpoint to reach its target before its approval (main.tf).
    time = {
      source  = "hashicorp/time"
      version = ">= 0.12.0, < 1.0.0"
    }
  }
}
