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
#     locks first and a first apply adds them last;
#   - a lock is released around any change that deletes a role assignment at or under its scope.
#     Six of the stack's assignments sit on the lake or its containers (main.rbac.tf: the lake's
#     data roles and the workspace's network approver), and a CanNotDelete lock refuses their
#     DELETE (ScopeLocked): https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources#considerations-before-applying-your-locks,
#     MicrosoftDocs/azure-docs#110791, hashicorp/terraform-provider-azurerm#11770 ("Terraform
#     can't remove role assignment when azurerm_management_lock is used"). azurerm replaces an
#     assignment (delete, then create) whenever its scope, role or principal changes
#     (role_assignment_resource.go: ForceNew), e.g. when the factory or the workspace is re-created
#     with a new identity. So each lock is replaced whenever the set of assignments under it changes
#     (terraform_data.locked_role_assignments below, replace_triggered_by): Terraform destroys the
#     lock before the assignment (the lock depends on it), then re-creates it after. The lake is
#     unlocked for that one apply only. tests/infra/test_lock_release.py checks the rule (every
#     assignment at or under a locked scope is released this way, or allow-listed with a reason)
#     and runs the construct in Terraform to show the order.
# Locks are made here, in one place like the RBAC (main.rbac.tf), not through the modules.
locals {
  locked_data = {
    lake     = module.data_lake.resource_id
    database = module.sql.database_id
    logs     = module.monitoring.resource_id
  }
  # Every role assignment this stack manages, keyed uniquely across the three resources.
  managed_role_assignments = merge(
    { for key, assignment in azurerm_role_assignment.this : key => assignment },
    { for key, assignment in azurerm_role_assignment.deployer : "deployer-${key}" => assignment },
    { for key, assignment in azurerm_role_assignment.network_approver : "approver-${key}" => assignment },
  )
}

# Per lock: the ids of the role assignments at or under its scope (ARM ids compared without case).
# An assignment added, replaced (new id) or removed changes this input, and the lock is replaced.
resource "terraform_data" "locked_role_assignments" {
  for_each = var.resource_locks_enabled ? local.locked_data : {}

  input = {
    for key, assignment in local.managed_role_assignments : key => assignment.id
    if lower(assignment.scope) == lower(each.value) || startswith(lower(assignment.scope), "${lower(each.value)}/")
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

  lifecycle {
    replace_triggered_by = [terraform_data.locked_role_assignments[each.key]]
  }
}
