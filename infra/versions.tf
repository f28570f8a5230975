# Pins live here and are the same in every module, infra/ and both roots (checked by tests/infra).
terraform {
  required_version = ">= 1.9, < 2.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 5.10.0, < 6.0.0"
    }
    # Reads system-assigned identities' client ids and approves Data Factory's managed private
    # endpoints: things azurerm has no resource for.
    azapi = {
      source  = "Azure/azapi"
      version = ">= 2.5.0, < 3.0.0"
    }
    # time_sleep: role assignments take effect after a delay (infra/main.rbac.tf).
    time = {
      source  = "hashicorp/time"
      version = ">= 0.12.0, < 1.0.0"
    }
  }
}
