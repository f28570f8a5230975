# Who may do what, in one place and least privilege. These live here rather than in each module's
# role_assignments input so that no two modules depend on each other's outputs (the workspace
# needs the lake, the lake's RBAC needs the workspace identity).
#
# The workspace storage has shared keys off and its system datastores are identity-based
# (storage_account_access_type = "identity"), so everything that reads or writes it needs a data
# role on it, and nothing else gets one (CKV_FS_7):
# https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage#scenarios-for-role-assignments
#   - the workspace: nothing here; AML assigns its system identity's roles on its storage itself;
#   - the compute clusters: Blob Data Contributor (job snapshots, default outputs, MLflow
#     artifacts, environment build context);
#   - the factory: Blob Data Contributor (batch endpoint jobs run with the invoker's identity and
#     write their default outputs to workspaceblobstore,
#     https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-batch-endpoint#how-authentication-works);
#   - the deploying identity: Blob Data Contributor (stackctl deploy uploads code snapshots and the
#     environment build context); no File role: this stack has no notebooks or compute instances,
#     the only users of the file share, and File Data Privileged Contributor overrides file ACLs.
locals {
  workspace_storage = module.aml_workspace.storage_account_id
  deployer          = data.azurerm_client_config.current.object_id
  role_assignments = {
    lake-workspace = { scope = module.data_lake.resource_id, role = "Storage Blob Data Contributor", principal_id = module.aml_workspace.principal_id }
    lake-factory   = { scope = module.data_lake.resource_id, role = "Storage Blob Data Contributor", principal_id = module.data_factory.principal_id }
    lake-gpu       = { scope = module.data_lake.resource_id, role = "Storage Blob Data Contributor", principal_id = module.aml_compute.principal_ids["gpu"] }
    lake-cpu       = { scope = module.data_lake.resource_id, role = "Storage Blob Data Contributor", principal_id = module.aml_compute.principal_ids["cpu"] }
    # The workspace storage (identity-based system datastores).
    # Not the workspace's own identity: for a system-assigned workspace identity AML grants its data
    # roles on the workspace storage itself, and a second assignment of the same role fails with 409
    # RoleAssignmentExists (https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage#create-a-new-workspace).
    wsstore-blob-gpu     = { scope = local.workspace_storage, role = "Storage Blob Data Contributor", principal_id = module.aml_compute.principal_ids["gpu"] }
    wsstore-blob-cpu     = { scope = local.workspace_storage, role = "Storage Blob Data Contributor", principal_id = module.aml_compute.principal_ids["cpu"] }
    wsstore-blob-build   = { scope = local.workspace_storage, role = "Storage Blob Data Contributor", principal_id = module.aml_compute.principal_ids["build"] }
    wsstore-blob-factory = { scope = local.workspace_storage, role = "Storage Blob Data Contributor", principal_id = module.data_factory.principal_id }
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
  # The deploying identity's data roles; its principal type is whatever signed in (a service
  # principal in CI, a user on a laptop), so Azure is left to infer it.
  deployer_role_assignments = {
    wsstore-blob-deployer = { scope = local.workspace_storage, role = "Storage Blob Data Contributor" }
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

resource "azurerm_role_assignment" "deployer" {
  for_each = local.deployer_role_assignments

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = local.deployer
  description          = "forecast-stack ${var.environment}: ${each.key} (the identity that runs terraform apply and stackctl deploy)"
}
