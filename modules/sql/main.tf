# Entra-only authentication: no administrator_login / password is ever set, so none can leak.
resource "azurerm_mssql_server" "this" {
  #checkov:skip=CKV_AZURE_24:Audit records go to Log Analytics (main.auditing.tf), whose retention (var.monitoring.retention_in_days) governs them; the storage retention this check reads is unused.
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  version                       = "12.0"
  minimum_tls_version           = "1.2"
  public_network_access_enabled = var.public_network_access_enabled
  tags                          = var.tags

  azuread_administrator {
    login_username              = var.entra_administrator.login_username
    object_id                   = var.entra_administrator.object_id
    azuread_authentication_only = true
  }

  # System-assigned only: Entra-only authentication and auditing rely on it; no caller
  # passes a user-assigned one.
  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_mssql_database" "this" {
  #checkov:skip=CKV_AZURE_224:The reporting database is derived data, rebuilt from the lake by every scoring run; ledger tables would not protect the source of truth.
  name           = var.database_name
  server_id      = azurerm_mssql_server.this.id
  sku_name       = var.database_sku
  zone_redundant = var.zone_redundant
  tags           = var.tags

  lifecycle {
    # Zone redundancy exists only in the Premium, Business Critical, General Purpose (vCore) and
    # Hyperscale tiers; Azure refuses it on Basic and Standard (DTU) databases. A precondition
    # rather than a cross-variable validation block, which checkov cannot render (CKV_FS_8 then
    # could not read the SKU).
    # https://learn.microsoft.com/azure/azure-sql/database/high-availability-sla-local-zone-redundancy#zone-redundant-availability
    precondition {
      condition     = !var.zone_redundant || can(regex("^(P[0-9]+|GP_|BC_|HS_)", var.database_sku))
      error_message = "zone_redundant = true needs a Premium (P*), General Purpose (GP_*), Business Critical (BC_*) or Hyperscale (HS_*) database_sku; Basic and Standard (S*) have no zone redundancy. Pick e.g. GP_S_Gen5_1, or set zone_redundant = false."
    }
  }
}
