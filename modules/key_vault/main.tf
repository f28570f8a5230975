# A vault in RBAC mode: access is granted with role assignments only, never access policies.
resource "azurerm_key_vault" "this" {
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  tenant_id                     = var.tenant_id
  sku_name                      = var.sku_name
  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = var.soft_delete_retention_days
  public_network_access_enabled = var.public_network_access_enabled
  tags                          = var.tags

  network_acls {
    # Deny by default; trusted Azure services (AML, ADF) still reach the vault with their identities.
    default_action = "Deny"
    bypass         = "AzureServices"
    ip_rules       = var.public_network_access_enabled ? var.allowed_ip_ranges : []
  }
}
