resource "azurerm_data_factory" "this" {
  #checkov:skip=CKV_AZURE_103:The factory's pipelines are defined in Terraform in this repository; a second (ADF Git) source of truth would drift from it.
  name                            = var.name
  location                        = var.location
  resource_group_name             = var.resource_group_name
  managed_virtual_network_enabled = var.managed_virtual_network_enabled
  public_network_enabled          = var.public_network_enabled
  tags                            = var.tags

  identity {
    type         = length(var.managed_identities.user_assigned_resource_ids) > 0 ? "SystemAssigned, UserAssigned" : "SystemAssigned"
    identity_ids = length(var.managed_identities.user_assigned_resource_ids) > 0 ? var.managed_identities.user_assigned_resource_ids : null
  }
}

resource "azurerm_data_factory_integration_runtime_azure" "this" {
  count = var.managed_virtual_network_enabled ? 1 : 0

  name                    = "ir-managed-vnet"
  data_factory_id         = azurerm_data_factory.this.id
  location                = "AutoResolve"
  virtual_network_enabled = true
}

resource "azurerm_data_factory_managed_private_endpoint" "this" {
  # Everything the pipeline reaches once public access is off: the lake (copy), SQL and Key Vault
  # (linked services) and the AML workspace (the batch endpoint calls and job polling).
  for_each = {
    for key, endpoint in {
      lake-dfs  = { target = var.data_lake.resource_id, subresource = "dfs" }
      sql       = { target = var.sql.server_id, subresource = "sqlServer" }
      key-vault = { target = var.key_vault_id, subresource = "vault" }
      workspace = { target = var.aml.workspace_id, subresource = "amlworkspace" }
    } : key => endpoint if var.managed_virtual_network_enabled
  }

  name               = "mpe-${each.key}"
  data_factory_id    = azurerm_data_factory.this.id
  target_resource_id = each.value.target
  subresource_name   = each.value.subresource
}
