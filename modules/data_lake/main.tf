# ADLS Gen2: hierarchical namespace on, shared keys off (every client authenticates with Entra ID).
resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV2_AZURE_1:Platform-managed keys plus infrastructure (double) encryption; the data is weekly shipment aggregates and CMK rotation would be an operational burden without a compliance requirement for it.
  #checkov:skip=CKV_AZURE_206:Zone-redundant storage (ZRS) in prod; geo-replication is not required because ADF can re-land the raw data from the source systems and everything else is derived from it.
  #checkov:skip=CKV_AZURE_33:The queue service is not used by this account (ADLS Gen2 file systems only), so there is no queue traffic to log.
  name                              = var.name
  location                          = var.location
  resource_group_name               = var.resource_group_name
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.replication_type
  is_hns_enabled                    = true
  shared_access_key_enabled         = false
  local_user_enabled                = false
  default_to_oauth_authentication   = true
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  infrastructure_encryption_enabled = true
  public_network_access_enabled     = var.public_network_access_enabled
  tags                              = var.tags

  # Blob versioning is not supported with a hierarchical namespace; soft delete is.
  blob_properties {
    delete_retention_policy {
      days = var.soft_delete_retention_days
    }

    container_delete_retention_policy {
      days = var.soft_delete_retention_days
    }
  }

  # Deny by default in every environment (CKV_FS_9). AML jobs come in through the private
  # endpoints of the workspace's managed-network outbound rules (both isolation modes), the
  # workspace and the factory as resource instances, people (dev) through named IP ranges.
  # https://learn.microsoft.com/azure/storage/common/storage-network-security#grant-access-from-azure-resource-instances
  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices", "Logging", "Metrics"]
    ip_rules       = var.public_network_access_enabled ? var.allowed_ip_ranges : []
    # A subnet with a storage service endpoint reaches the account from private VNet addresses, so
    # only a VNet rule admits it (IP rules see public addresses only).
    # https://learn.microsoft.com/azure/storage/common/storage-network-security-virtual-networks
    virtual_network_subnet_ids = var.public_network_access_enabled ? var.allowed_subnet_ids : []

    dynamic "private_link_access" {
      for_each = var.resource_access_rules
      content {
        endpoint_resource_id = private_link_access.value
      }
    }
  }
}

# With a hierarchical namespace a container is an ADLS Gen2 file system. Created through the
# management plane (storage_account_id), so neither the account firewall nor data-plane RBAC for
# the deploying identity stands between Terraform and the file systems.
resource "azurerm_storage_container" "this" {
  #checkov:skip=CKV2_AZURE_21:Blob read, write and delete logs reach Log Analytics through the diagnostic setting on blobServices/default (main.interfaces.tf, category group allLogs); this check only recognises classic Storage Analytics logging.
  for_each = var.file_systems

  name                  = each.value
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

resource "azurerm_storage_management_policy" "this" {
  storage_account_id = azurerm_storage_account.this.id

  rule {
    name    = "raw-age-out"
    enabled = true

    filters {
      blob_types   = ["blockBlob"]
      prefix_match = ["raw/"]
    }

    actions {
      base_blob {
        tier_to_cool_after_days_since_modification_greater_than = var.raw_lifecycle.cool_after_days
        delete_after_days_since_modification_greater_than       = var.raw_lifecycle.delete_after_days
      }
    }
  }
}
