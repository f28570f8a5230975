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

module "monitoring" {
  source = "../../../monitoring"

  name                      = "log-fcst-example-weu"
  application_insights_name = "appi-fcst-example-weu"
  location                  = azurerm_resource_group.example.location
  resource_group_name       = azurerm_resource_group.example.name
  tags                      = local.tags
}

# Azure SQL with Entra-only authentication and the reporting database; auditing to Log Analytics.
module "sql" {
  source = "../.."

  name                = "sql-fcst-example-x01"
  location            = azurerm_resource_group.example.location
  resource_group_name = azurerm_resource_group.example.name
  entra_administrator = {
    login_username = "sql-admins"
    object_id      = "00000000-0000-0000-0000-000000000001" # the object id of an Entra group of yours
  }
  log_analytics_workspace_id = module.monitoring.resource_id
  tags                       = local.tags
}
