# A thin root: the provider, then the stack with this environment's values. No resources here.
provider "azurerm" {
  features {}
  # Shared keys are disabled on every storage account, so the provider must use Entra ID too.
  storage_use_azuread = true
  use_oidc            = true
}

provider "azapi" {
  use_oidc = true
}

module "stack" {
  source = "../../infra"

  environment                   = var.environment
  location                      = var.location
  location_short                = var.location_short
  workload                      = var.workload
  name_suffix                   = var.name_suffix
  tags                          = var.tags
  network                       = var.network
  public_network_access_enabled = var.public_network_access_enabled
  allowed_ip_ranges             = var.allowed_ip_ranges
  zone_redundant                = var.zone_redundant
  resource_locks_enabled        = var.resource_locks_enabled
  diagnostic_settings_enabled   = var.diagnostic_settings_enabled
  aml                           = var.aml
  data_lake                     = var.data_lake
  sql                           = var.sql
  powerbi                       = var.powerbi
  schedules                     = var.schedules
  monitoring                    = var.monitoring
}

output "stack" {
  value       = module.stack.stack
  description = "The stack contract read by stackctl deploy (terraform output -json)."
}
