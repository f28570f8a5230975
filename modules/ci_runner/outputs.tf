output "resource_id" {
  value       = try(azapi_resource.network_settings[0].id, azurerm_managed_devops_pool.this[0].id)
  description = "The runner's Azure resource: the GitHub.Network/networkSettings id (GitHub) or the Managed DevOps Pool id (Azure DevOps)."
}

output "github_network_settings_id" {
  value       = try(azapi_resource.network_settings[0].output.tags.GitHubId, null)
  description = "GitHub only: the id GitHub's hosted-compute network configuration takes as network_settings_ids (the resource's GitHubId tag); null for Azure DevOps."
}

output "azure_pipelines_pool" {
  value       = try(azurerm_managed_devops_pool.this[0].name, null)
  description = "Azure DevOps only: the agent pool name the pipeline's pool.name selects; null for GitHub."
}
