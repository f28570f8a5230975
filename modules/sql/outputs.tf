output "resource_id" {
  value       = azurerm_mssql_server.this.id
  description = "ARM id of the logical server."
}

output "server_name" {
  value       = azurerm_mssql_server.this.name
  description = "Logical server name."
}

output "server_fqdn" {
  value       = azurerm_mssql_server.this.fully_qualified_domain_name
  description = "Server FQDN (<name>.database.windows.net) for connections with Entra tokens."
}

output "database_name" {
  value       = azurerm_mssql_database.this.name
  description = "The reporting database's name."
}

output "database_id" {
  value       = azurerm_mssql_database.this.id
  description = "ARM id of the reporting database."
}

output "principal_id" {
  value       = azurerm_mssql_server.this.identity[0].principal_id
  description = "Object id of the server's system-assigned identity."
}

output "reporting_schema" {
  value       = var.reporting_schema
  description = "Schema of the reporting tables and views."
}

output "contained_user_principals" {
  value       = { for key, user in var.contained_user_principals : key => user.display_name }
  description = "Entra display names of the principals the glue creates contained users for, by purpose (aml, adf)."
}

output "contained_user_sids" {
  value       = { for key, user in var.contained_user_principals : key => { id = user.type == "E" ? user.client_id : user.object_id, type = user.type } }
  description = "By purpose: the GUID whose bytes are the contained user's SID (client id of a managed identity, object id of a group) and its TYPE (E or X), for `CREATE USER [...] WITH SID = ..., TYPE = ...` without a directory lookup."
}
