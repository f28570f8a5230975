# Entra-only authentication: no administrator_login / password is ever set, so none can leak.
resource "azurerm_mssql_server" "this" {
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

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_mssql_database" "this" {
  name           = var.database_name
  server_id      = azurerm_mssql_server.this.id
  sku_name       = var.database_sku
  zone_redundant = var.zone_redundant
  tags           = var.tags
}
