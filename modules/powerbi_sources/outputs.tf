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

output "views" {
  value       = var.views
  description = "Views the Power BI model imports."
}

output "entra_group" {
  value       = var.powerbi_group.display_name
  description = "Entra group the glue grants read access on the reporting schema."
}

output "connection_mode" {
  value       = var.gateway_private_endpoint != null ? "private-endpoint" : "firewall"
  description = "How Power BI reaches the database: through the firewall or a private endpoint."
}
