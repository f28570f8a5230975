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

module "sql" {
  source = "../../../sql"

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

# What Power BI reads: the reporting views of that database, for one Entra group.
module "powerbi_sources" {
  source = "../.."

  name                = "pbi-fcst-example-weu"
  location            = azurerm_resource_group.example.location
  resource_group_name = azurerm_resource_group.example.name
  sql_server_id       = module.sql.resource_id
  sql_server_fqdn     = module.sql.server_fqdn
  database_name       = module.sql.database_name
  powerbi_group = {
    display_name = "forecast-report-readers"
    object_id    = "00000000-0000-0000-0000-000000000002" # the object id of that group
  }
  tags = local.tags
}
