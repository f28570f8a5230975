output "resource_id" {
  value       = azurerm_machine_learning_workspace.this.id
  description = "ARM id of the AML workspace."
}

output "name" {
  value       = azurerm_machine_learning_workspace.this.name
  description = "Name of the AML workspace."
}

output "principal_id" {
  value       = azurerm_machine_learning_workspace.this.identity[0].principal_id
  description = "Object id of the workspace's system-assigned identity."
}

output "datastore_names" {
  value       = { for key, datastore in azurerm_machine_learning_datastore_datalake_gen2.this : key => datastore.name }
  description = "AML datastore names by key."
}

output "storage_account_id" {
  value       = azurerm_storage_account.workspace.id
  description = "ARM id of the workspace's own storage account."
}

output "container_registry_id" {
  value       = azurerm_container_registry.this.id
  description = "ARM id of the workspace's container registry."
}

output "blob_datastore_names" {
  value       = { for key, datastore in azapi_resource.blob_datastore : key => datastore.name }
  description = "AzureBlob datastore names by key (the targets of AML outputs)."
}
