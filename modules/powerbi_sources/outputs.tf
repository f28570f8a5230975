output "server" {
  value       = var.sql_server_fqdn
  description = "Server FQDN for the Power BI data source."
}

output "database" {
  value       = var.database_name
  description = "Database for the Power BI data source."
}

output "schema" {
  value       = var.reporting_schema
  description = "Schema of the reporting views."
}

output "gateway_subnet_id" {
  value       = var.gateway_subnet_id
  description = "Subnet delegated to Microsoft.PowerPlatform/vnetaccesslinks for the Power BI VNet data gateway (null in dev)."
}

output "views" {
  value       = var.views
  description = "Views the Power BI model imports."
}

output "entra_group" {
  value       = var.powerbi_group.display_name
  description = "Entra group the glue grants read access on the reporting schema."
}

output "connection_mode" {
  value       = var.gateway_subnet_id != null ? "vnet-data-gateway" : "firewall"
  description = "How Power BI reaches the database: through the firewall (named IP ranges) or a VNet data gateway."
}
