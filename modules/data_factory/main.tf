resource "azurerm_data_factory" "this" {
  #checkov:skip=CKV_AZURE_103:The factory's pipelines are defined in Terraform in this repository; a second (ADF Git) source of truth would drift from it.
  name                            = var.name
  location                        = var.location
  resource_group_name             = var.resource_group_name
  managed_virtual_network_enabled = var.managed_virtual_network_enabled
  public_network_enabled          = var.public_network_enabled
  tags                            = var.tags

  # System-assigned only: its linked services and the batch endpoint calls authenticate
  # with it; no caller passes a user-assigned one.
  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_data_factory_integration_runtime_azure" "this" {
  count = var.managed_virtual_network_enabled ? 1 : 0

  name                    = "ir-managed-vnet"
  data_factory_id         = azurerm_data_factory.this.id
  location                = "AutoResolve"
  virtual_network_enabled = true
}

locals {
  # Everything the pipeline reaches through the managed virtual network: the lake (copy), SQL and
  # Key Vault (linked services) and the AML workspace (batch endpoint invocation). `type` is the
  # target's ARM type with the API version used to read and approve its connections.
  managed_private_endpoints = {
    for key, endpoint in {
      lake-dfs  = { target = var.data_lake.resource_id, subresource = "dfs", type = "Microsoft.Storage/storageAccounts", api = "2023-05-01" }
      sql       = { target = var.sql.server_id, subresource = "sqlServer", type = "Microsoft.Sql/servers", api = "2021-11-01" }
      key-vault = { target = var.key_vault_id, subresource = "vault", type = "Microsoft.KeyVault/vaults", api = "2023-07-01" }
      workspace = { target = var.aml.workspace_id, subresource = "amlworkspace", type = "Microsoft.MachineLearningServices/workspaces", api = "2024-04-01" }
    } : key => endpoint if var.managed_virtual_network_enabled
  }
}

resource "azurerm_data_factory_managed_private_endpoint" "this" {
  for_each = local.managed_private_endpoints

  name               = "mpe-${each.key}"
  data_factory_id    = azurerm_data_factory.this.id
  target_resource_id = each.value.target
  subresource_name   = each.value.subresource
}

# A managed private endpoint arrives at its target as a Pending connection; until it is approved
# every activity through it fails. The deploying identity owns the targets, so Terraform approves
# them: read the target's connections once the endpoint exists, then set the one whose private
# endpoint carries this endpoint's name to Approved (azapi_update_resource is a PATCH-like
# read-modify-write, idempotent on later runs). (CKV2_FS_4)
# https://learn.microsoft.com/azure/data-factory/managed-virtual-network-private-endpoint#managed-private-endpoints
# https://learn.microsoft.com/azure/private-link/manage-private-endpoint#manage-private-endpoint-connections-on-azure-paas-resources
#
# The race: Data Factory answers the managed private endpoint's PUT while the endpoint is still
# being provisioned in its managed VNet (provisioningState "Provisioning"), and the connection
# shows on the target only once that finishes. Read at once, the target lists no connection and the
# precondition below stops the apply. azapi's `retry` cannot help here: it retries failed requests
# (error_message_regex, http_status_codes), and this read succeeds, with an empty list
# (https://registry.terraform.io/providers/Azure/azapi/latest/docs/data-sources/resource#nested-schema-for-retry).
# So each read waits for its endpoint first (time_sleep, again whenever the endpoint is
# recreated); should a provisioning outlast the wait, the precondition says so and a second
# `make apply` approves it (every step is idempotent).
# https://learn.microsoft.com/azure/data-factory/managed-virtual-network-private-endpoint#managed-private-endpoints
resource "time_sleep" "managed_private_endpoint_provisioning" {
  for_each = local.managed_private_endpoints

  create_duration = "3m"
  triggers = {
    endpoint_id = azurerm_data_factory_managed_private_endpoint.this[each.key].id
  }
}

data "azapi_resource" "managed_private_endpoint_target" {
  for_each = local.managed_private_endpoints

  type                   = "${each.value.type}@${each.value.api}"
  resource_id            = each.value.target
  response_export_values = ["properties.privateEndpointConnections"]

  # Read after the endpoint has had time to reach its target (above), not merely after its PUT.
  depends_on = [time_sleep.managed_private_endpoint_provisioning]
}

locals {
  managed_private_endpoint_connections = {
    for key, target in data.azapi_resource.managed_private_endpoint_target : key => [
      # The connection's name is the last segment of its id: Key Vault and SQL list connections as
      # {id, properties} without a `name` (https://learn.microsoft.com/rest/api/keyvault/keyvault/vaults/get,
      # https://learn.microsoft.com/rest/api/sql/servers/get), storage and AML with one.
      for connection in coalesce(try(target.output.properties.privateEndpointConnections, null), []) : reverse(split("/", connection.id))[0]
      if endswith(lower(try(connection.properties.privateEndpoint.id, "")), lower(azurerm_data_factory_managed_private_endpoint.this[key].name))
    ]
  }
}

resource "azapi_update_resource" "managed_private_endpoint_approval" {
  for_each = local.managed_private_endpoints

  type      = "${each.value.type}/privateEndpointConnections@${each.value.api}"
  parent_id = each.value.target
  name      = try(local.managed_private_endpoint_connections[each.key][0], "")
  body = {
    properties = {
      privateLinkServiceConnectionState = {
        status      = "Approved"
        description = "Approved by Terraform for Data Factory ${var.name} (managed private endpoint ${azurerm_data_factory_managed_private_endpoint.this[each.key].name})."
      }
    }
  }

  lifecycle {
    precondition {
      condition     = length(local.managed_private_endpoint_connections[each.key]) == 1
      error_message = "expected exactly one private endpoint connection from managed private endpoint mpe-${each.key} on ${each.value.target}; found ${length(local.managed_private_endpoint_connections[each.key])}. If none, the endpoint was still provisioning after the wait (time_sleep.managed_private_endpoint_provisioning): run the apply again. Else check the managed private endpoint in Data Factory Studio (Manage > Managed private endpoints) and approve it on the target by hand if its connection name differs."
    }
  }
}
