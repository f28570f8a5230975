# CanNotDelete locks (prod: var.resource_locks_enabled) on what holds data that cannot be recreated,
# and nothing else (issue 22 item 10). A lock is inherited by every child and extension resource of
# its scope: it blocks deleting their diagnostic settings, role assignments, private endpoint
# connections and, on a parent, every child (clusters, batch deployments, pipelines)
# (https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources#lock-inheritance,
# "Considerations"). So:
#   - the holders of data are locked: the lake, the reporting database, the Log Analytics workspace
#     (audit logs); not the workspace, the factory, the SQL server or the Key Vault, whose children
#     churn (deploy prunes old batch deployments, clusters are replaced) or which purge protection
#     already keeps (the vault);
#   - each lock is created after, and so destroyed before, everything under or extending its scope:
#     depends_on names every module and every role assignment, so `terraform destroy` deletes the
#     locks first and a first apply adds them last.
# Locks are made here, in one place like the RBAC (main.rbac.tf), not through the modules.
locals {
  locked_data = {
    lake     = module.data_lake.resource_id
    database = module.sql.database_id
    logs     = module.monitoring.resource_id
  }
}

resource "azurerm_management_lock" "data" {
  for_each = var.resource_locks_enabled ? local.locked_data : {}

  name       = "lock-${each.key}-${var.environment}"
  scope      = each.value
  lock_level = "CanNotDelete"
  notes      = "Managed by Terraform (infra/main.locks.tf): remove the lock in code, not in the portal."

  depends_on = [
    module.network,
    module.monitoring,
    module.key_vault,
    module.data_lake,
    module.aml_workspace,
    module.aml_compute,
    module.sql,
    module.powerbi_sources,
    module.data_factory,
    azurerm_role_assignment.this,
    azurerm_role_assignment.deployer,
    azurerm_role_assignment.network_approver,
  ]
}
