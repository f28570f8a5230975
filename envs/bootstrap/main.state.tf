# Terraform state: Entra ID only (no shared keys, no SAS), TLS 1.2, no public blobs, versioning and
# soft delete so a bad apply's state can be restored, one container per environment so each
# deploying identity reaches only its own state.
# https://learn.microsoft.com/azure/developer/terraform/store-state-in-azure-storage
# https://developer.hashicorp.com/terraform/language/backend/azurerm#use_azuread_auth
resource "azurerm_storage_account" "state" {
  name                            = var.state_storage_account_name
  location                        = var.location
  resource_group_name             = azurerm_resource_group.bootstrap.name
  account_tier                    = "Standard"
  account_replication_type        = "ZRS"
  account_kind                    = "StorageV2"
  min_tls_version                 = "TLS1_2"
  https_traffic_only_enabled      = true
  shared_access_key_enabled       = false
  default_to_oauth_authentication = true
  allow_nested_items_to_be_public = false
  # Dev's pipeline runs on hosted runners, which reach the state over the public endpoint with an
  # Entra token; a network rule set would lock them out. Access is Entra RBAC, per container.
  public_network_access_enabled = true

  blob_properties {
    versioning_enabled = true
    delete_retention_policy {
      days = 30
    }
    container_delete_retention_policy {
      days = 30
    }
  }

  tags = local.tags
}

resource "azurerm_storage_container" "state" {
  for_each = local.names.state_container

  name                  = local.names.state_container[each.key]
  storage_account_id    = azurerm_storage_account.state.id
  container_access_type = "private"
}

# The owner running the bootstrap keeps this root's own state in tfstate-bootstrap: Owner has no
# data-plane rights, and no deploying identity may touch the state that grants it its roles.
resource "azurerm_role_assignment" "owner_bootstrap_state" {
  scope                = azurerm_storage_container.state["bootstrap"].id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = data.azurerm_client_config.current.object_id
  description          = "forecast-stack bootstrap: the owner who runs it reads and writes the bootstrap's own state"
}
