# Terraform state: Entra ID only (no shared keys, no SAS), TLS 1.2, no public blobs, versioning and
# soft delete so a bad apply's state can be restored, one container per environment so each
# deploying identity reaches only its own state.
# https://learn.microsoft.com/azure/developer/terraform/store-state-in-azure-storage
# https://developer.hashicorp.com/terraform/language/backend/azurerm#use_azuread_auth
resource "azurerm_storage_account" "state" {
  #checkov:skip=CKV_AZURE_59:the public endpoint stays on behind a deny-by-default firewall: the runner subnets come in by VNet rule (service endpoint), owners by IP (state_allowed_ip_ranges); shared keys are off
  #checkov:skip=CKV_FS_2:public endpoint behind a deny-by-default firewall (see CKV_AZURE_59)
  #checkov:skip=CKV2_FS_2:no private endpoint: the firewall admits only the runner subnets and the owners' IPs (see CKV_AZURE_59)
  #checkov:skip=CKV2_AZURE_33:no private endpoint: the firewall admits only the runner subnets and the owners' IPs (see CKV_AZURE_59)
  #checkov:skip=CKV_AZURE_33:the state account has no queues; the queue service is unused
  #checkov:skip=CKV2_AZURE_21:state reads are authorised by Entra RBAC; every write is a blob version kept 30 days, which is the audit trail that matters
  #checkov:skip=CKV2_FS_1:see CKV2_AZURE_21; the bootstrap keeps no Log Analytics workspace of its own
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys: the state holds no customer data, and a lost CMK would lock out both stacks' state
  #checkov:skip=CKV_AZURE_206:ZRS is replication (three zones); versioning and soft delete cover the bad-apply case GRS would not
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
  # Deny by default; the runner subnets by VNet rule (IP rules have no effect on requests from the
  # same region), the owners by IP. Every request also needs an Entra token with a per-container role.
  # https://learn.microsoft.com/azure/storage/common/storage-network-security-limitations
  public_network_access_enabled = true
  network_rules {
    default_action             = "Deny"
    bypass                     = ["AzureServices"]
    ip_rules                   = var.state_allowed_ip_ranges
    virtual_network_subnet_ids = [for subnet in azurerm_subnet.runner : subnet.id]
  }

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
  #checkov:skip=CKV2_AZURE_21:see the account: Entra RBAC per container, and every write kept as a blob version
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

# Each environment's first state: Terraform's azurerm backend creates a missing state by writing an
# empty one under a lease (StateMgr: client.Lock, then WriteState/PersistState), whatever -lock says,
# and the first run of each environment is its plan job, whose identity only reads the state
# (Storage Blob Data Reader): it would fail with 403. scripts/bootstrap_state.sh therefore writes an
# empty state once, never over an existing one (--if-none-match '*'), as the owner, who holds this
# role for that and for breaking a stale lease (docs/runbooks/state-lock.md).
# https://developer.hashicorp.com/terraform/language/backend/azurerm
# (hashicorp/terraform internal/backend/remote-state/azure/backend_state.go, StateMgr)
resource "azurerm_role_assignment" "owner_environment_state" {
  for_each = { for env, name in local.names.state_container : env => name if env != "bootstrap" }

  scope                = azurerm_storage_container.state[each.key].id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = data.azurerm_client_config.current.object_id
  description          = "forecast-stack bootstrap: the owner writes ${each.key}'s first, empty state once and breaks a stale lease"
}
