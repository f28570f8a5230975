output "resource_id" {
  value       = azurerm_container_app_job.this.id
  description = "ARM id of the Container Apps job that runs the runners."
}

output "environment_id" {
  value       = azurerm_container_app_environment.this.id
  description = "ARM id of the internal Container Apps environment."
}

output "labels" {
  value       = var.labels
  description = "The labels prod jobs select the runners with (GitHub runs-on)."
}
