output "resource_id" {
  value       = azurerm_log_analytics_workspace.this.id
  description = "ARM id of the Log Analytics workspace, the destination of every diagnostic setting."
}

output "log_analytics_workspace_name" {
  value       = azurerm_log_analytics_workspace.this.name
  description = "Name of the Log Analytics workspace."
}

output "application_insights_id" {
  value       = azurerm_application_insights.this.id
  description = "ARM id of the workspace-based Application Insights, linked to the AML workspace."
}

output "application_insights_name" {
  value       = azurerm_application_insights.this.name
  description = "Name of the Application Insights resource."
}

output "action_group_id" {
  value       = azurerm_monitor_action_group.this.id
  description = "ARM id of the action group the alert rules notify."
}

output "alert_rule_names" {
  value       = concat([for rule in azurerm_monitor_scheduled_query_rules_alert_v2.pipeline_failed : rule.name], [for rule in azurerm_monitor_scheduled_query_rules_alert_v2.this : rule.name])
  description = "Names of the alert rules created."
}

# Not a secret: with local authentication off, ingestion needs an Entra token of an identity holding
# Monitoring Metrics Publisher; the string only says where to send. The provider marks the
# attribute sensitive, so Terraform requires the output to be sensitive too.
# https://learn.microsoft.com/azure/azure-monitor/app/connection-strings
output "application_insights_connection_string" {
  value       = azurerm_application_insights.this.connection_string
  sensitive   = true
  description = "Connection string of the Application Insights resource (APPLICATIONINSIGHTS_CONNECTION_STRING for the jobs' OpenTelemetry exporter); sensitive in Terraform because the provider marks it so."
}
