# The tags every resource of the stack carries (the modules refuse a missing one).
locals {
  tags = {
    environment         = "dev"
    owner               = "platform-team"
    cost_centre         = "cc-1234"
    data_classification = "internal"
  }
}

resource "azurerm_resource_group" "example" {
  name     = "rg-fcst-example-weu"
  location = "westeurope"
  tags     = local.tags
}

data "azurerm_client_config" "current" {}

module "key_vault" {
  source = "../../../key_vault"

  name                = "kv-fcst-example-x01"
  location            = azurerm_resource_group.example.location
  resource_group_name = azurerm_resource_group.example.name
  tenant_id           = data.azurerm_client_config.current.tenant_id
  tags                = local.tags
}

module "monitoring" {
  source = "../../../monitoring"

  name                      = "log-fcst-example-weu"
  application_insights_name = "appi-fcst-example-weu"
  location                  = azurerm_resource_group.example.location
  resource_group_name       = azurerm_resource_group.example.name
  tags                      = local.tags
}

# The Azure ML workspace with its own storage and registry, on the Key Vault and App Insights above.
module "aml_workspace" {
  source = "../.."

  name                    = "mlw-fcst-example-weu"
  location                = azurerm_resource_group.example.location
  resource_group_name     = azurerm_resource_group.example.name
  storage_account_name    = "stmlfcstexamplex01"
  container_registry_name = "crfcstexamplex01"
  key_vault_id            = module.key_vault.resource_id
  application_insights_id = module.monitoring.application_insights_id
  tags                    = local.tags
}
