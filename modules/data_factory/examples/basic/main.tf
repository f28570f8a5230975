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

module "data_lake" {
  source = "../../../data_lake"

  name                = "stdlfcstexamplex01"
  location            = azurerm_resource_group.example.location
  resource_group_name = azurerm_resource_group.example.name
  tags                = local.tags
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

# The weekly pipeline: raw files from the lake, the training and scoring batch endpoints, the scores
# into SQL. The endpoints are those `stackctl deploy` publishes in the workspace.
module "data_factory" {
  source = "../.."

  name                = "adf-fcst-example-weu"
  location            = azurerm_resource_group.example.location
  resource_group_name = azurerm_resource_group.example.name
  data_lake = {
    resource_id  = module.data_lake.resource_id
    dfs_endpoint = module.data_lake.dfs_endpoint
  }
  sql = {
    server_id     = module.sql.resource_id
    server_fqdn   = module.sql.server_fqdn
    database_name = module.sql.database_name
  }
  key_vault_id = module.key_vault.resource_id
  aml = {
    workspace_id        = module.aml_workspace.resource_id
    training_invoke_uri = "https://fcst-example-train.westeurope.inference.ml.azure.com/jobs"
    scoring_invoke_uri  = "https://fcst-example-score.westeurope.inference.ml.azure.com/jobs"
    input_data_uri      = "azureml://datastores/conditioned/paths/weekly/"
    datastores          = { scored = "scored" }
  }
  schedule = { activated = false }
  tags     = local.tags
}
