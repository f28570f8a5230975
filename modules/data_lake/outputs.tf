output "resource_id" {
  value       = azurerm_storage_account.this.id
  description = "ARM id of the storage account, for role assignments."
}

output "name" {
  value       = azurerm_storage_account.this.name
  description = "Storage account name."
}

output "dfs_endpoint" {
  value       = azurerm_storage_account.this.primary_dfs_endpoint
  description = "The Data Lake (dfs) endpoint, https://<account>.dfs.core.windows.net/."
}

output "file_systems" {
  value       = { for name, fs in azurerm_storage_container.this : name => fs.name }
  description = "File system names by purpose (raw, conditioned, scored)."
}

output "file_system_container_ids" {
  value       = { for name, fs in azurerm_storage_container.this : name => fs.id }
  description = "ARM ids of the file systems as blob containers, which AML datastores point at."
}
