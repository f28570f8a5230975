resource "azurerm_storage_account" "workspace" {
  #checkov:skip=CKV_AZURE_35:The default action follows public access: Deny whenever public access is off (the module default, and what prod-policy requires of prod); Allow only on dev public networks, where AML compute nodes are not trusted services.
  #checkov:skip=CKV2_AZURE_1:Platform-managed keys; this account holds AML run artifacts and snapshots only, no business data.
  #checkov:skip=CKV_AZURE_206:Zone-redundant storage (ZRS) in prod; geo-replication is not required because ADF can re-land the raw data from the source systems and everything else is derived from it.
  #checkov:skip=CKV_AZURE_33:AML does not use the queue service of its workspace storage for this stack's jobs.
  name                            = var.storage_account_name
  location                        = var.location
  resource_group_name             = var.resource_group_name
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = var.zone_redundant ? "ZRS" : "LRS"
  shared_access_key_enabled       = false
  local_user_enabled              = false
  default_to_oauth_authentication = true
  min_tls_version                 = "TLS1_2"
  allow_nested_items_to_be_public = false
  public_network_access_enabled   = var.public_network_access_enabled
  tags                            = var.tags

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = 14
    }

    container_delete_retention_policy {
      days = 14
    }
  }

  network_rules {
    # As for the lake: jobs on public nodes (dev) must reach run artifacts; prod allows only the
    # private endpoints.
    default_action = var.public_network_access_enabled ? "Allow" : "Deny"
    bypass         = ["AzureServices", "Logging", "Metrics"]
  }
}

resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_163:Images are built by AML from the pinned environment in this repository; Defender for Containers scanning is enabled at subscription level, not per registry.
  #checkov:skip=CKV_AZURE_164:Content trust needs Docker Content Trust signing in AML image builds, which AML does not support.
  #checkov:skip=CKV_AZURE_165:Single-region stack; a geo-replica would serve no deployment.
  #checkov:skip=CKV_AZURE_166:Quarantine needs a scanner to release images; AML image builds would block on it.
  #checkov:skip=CKV_AZURE_233:Zone redundancy is a per-environment value (var.zone_redundant): on in prod, off in dev to save cost.
  name                = var.container_registry_name
  location            = var.location
  resource_group_name = var.resource_group_name
  # Premium: the only SKU with private endpoints, dedicated data endpoints and zone redundancy.
  sku                           = "Premium"
  admin_enabled                 = false
  data_endpoint_enabled         = true
  retention_policy_in_days      = 7
  public_network_access_enabled = var.public_network_access_enabled
  zone_redundancy_enabled       = var.zone_redundant
  tags                          = var.tags
}

resource "azurerm_machine_learning_workspace" "this" {
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  storage_account_id            = azurerm_storage_account.workspace.id
  key_vault_id                  = var.key_vault_id
  container_registry_id         = azurerm_container_registry.this.id
  application_insights_id       = var.application_insights_id
  public_network_access_enabled = var.public_network_access_enabled
  image_build_compute_name      = null
  v1_legacy_mode_enabled        = false
  tags                          = var.tags

  identity {
    type         = length(var.managed_identities.user_assigned_resource_ids) > 0 ? "SystemAssigned, UserAssigned" : "SystemAssigned"
    identity_ids = length(var.managed_identities.user_assigned_resource_ids) > 0 ? var.managed_identities.user_assigned_resource_ids : null
  }

  managed_network {
    isolation_mode = var.managed_network_isolation_mode
  }
}

# Identity-based datastores: no account key or SAS is stored; jobs read the lake with the
# workspace or compute identity, which infra/ grants Storage Blob Data Contributor.
resource "azurerm_machine_learning_datastore_datalake_gen2" "this" {
  for_each = var.data_lake_datastores

  name                  = each.key
  workspace_id          = azurerm_machine_learning_workspace.this.id
  storage_container_id  = each.value
  service_data_identity = "WorkspaceSystemAssignedIdentity"
  tags                  = var.tags
}
