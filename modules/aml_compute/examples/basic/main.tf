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

module "aml_workspace" {
  source = "../../../aml_workspace"

  name                    = "mlw-fcst-example-weu"
  location                = azurerm_resource_group.example.location
  resource_group_name     = azurerm_resource_group.example.name
  storage_account_name    = "stmlfcstexamplex01"
  container_registry_name = "crfcstexamplex01"
  key_vault_id            = module.key_vault.resource_id
  application_insights_id = module.monitoring.application_insights_id
  tags                    = local.tags
}

# A CPU cluster that scales to zero, in that workspace.
module "aml_compute" {
  source = "../.."

  name                          = "fcst-example"
  location                      = azurerm_resource_group.example.location
  resource_group_name           = azurerm_resource_group.example.name
  machine_learning_workspace_id = module.aml_workspace.resource_id
  clusters = {
    cpu = { vm_size = "Standard_DS3_v2", max_node_count = 2, description = "scoring" }
  }
  tags = local.tags
}
