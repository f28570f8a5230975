output "resource_id" {
  value       = azurerm_key_vault.this.id
  description = "ARM id of the vault, for role assignments and AML/ADF links."
}

output "name" {
  value       = azurerm_key_vault.this.name
  description = "Name of the vault."
}

output "vault_uri" {
  value       = azurerm_key_vault.this.vault_uri
  description = "The vault's URI (https://<name>.vault.azure.net/), for the ADF linked service."
}
