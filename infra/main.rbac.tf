# Who may do what, in one place and least privilege. These live here rather than in each module's
# role_assignments input so that no two modules depend on each other's outputs (the workspace
# needs the lake, the lake's RBAC needs the workspace identity).
locals {
  role_assignments = {
    lake-workspace = { scope = module.data_lake.resource_id, role = "Storage Blob Data Contributor", principal_id = module.aml_workspace.principal_id }
    lake-factory   = { scope = module.data_lake.resource_id, role = "Storage Blob Data Contributor", principal_id = module.data_factory.principal_id }
    lake-gpu       = { scope = module.data_lake.resource_id, role = "Storage Blob Data Contributor", principal_id = module.aml_compute.principal_ids["gpu"] }
    lake-cpu       = { scope = module.data_lake.resource_id, role = "Storage Blob Data Contributor", principal_id = module.aml_compute.principal_ids["cpu"] }
    # AML manages workspace secrets (connections) in the vault; the factory and jobs only read them.
    vault-workspace = { scope = module.key_vault.resource_id, role = "Key Vault Secrets Officer", principal_id = module.aml_workspace.principal_id }
    vault-factory   = { scope = module.key_vault.resource_id, role = "Key Vault Secrets User", principal_id = module.data_factory.principal_id }
    vault-gpu       = { scope = module.key_vault.resource_id, role = "Key Vault Secrets User", principal_id = module.aml_compute.principal_ids["gpu"] }
    vault-cpu       = { scope = module.key_vault.resource_id, role = "Key Vault Secrets User", principal_id = module.aml_compute.principal_ids["cpu"] }
    # The jobs send their OpenTelemetry metrics to App Insights, whose local (key) authentication is off:
    # Entra-authenticated ingestion needs "Monitoring Metrics Publisher" on the App Insights resource
    # (https://learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication).
    telemetry-gpu = { scope = module.monitoring.application_insights_id, role = "Monitoring Metrics Publisher", principal_id = module.aml_compute.principal_ids["gpu"] }
    telemetry-cpu = { scope = module.monitoring.application_insights_id, role = "Monitoring Metrics Publisher", principal_id = module.aml_compute.principal_ids["cpu"] }
    # The factory starts batch endpoint jobs and polls them: the narrowest built-in role that may.
    workspace-factory = { scope = module.aml_workspace.resource_id, role = "AzureML Data Scientist", principal_id = module.data_factory.principal_id }
  }
}

resource "azurerm_role_assignment" "this" {
  for_each = local.role_assignments

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = each.value.principal_id
  principal_type       = "ServicePrincipal"
  description          = "forecast-stack ${var.environment}: ${each.key}"
}
