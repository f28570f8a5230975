output "resource_id" {
  value       = azurerm_data_factory.this.id
  description = "ARM id of the factory."
}

output "name" {
  value       = azurerm_data_factory.this.name
  description = "Name of the factory (also the display name of its managed identity)."
}

output "principal_id" {
  value       = azurerm_data_factory.this.identity[0].principal_id
  description = "Object id of the factory's managed identity, for RBAC on the lake and the AML workspace."
}

output "pipeline_name" {
  value       = azurerm_data_factory_pipeline.weekly.name
  description = "Name of the weekly pipeline."
}

output "trigger_name" {
  value       = azurerm_data_factory_trigger_schedule.weekly.name
  description = "Name of the weekly schedule trigger."
}
