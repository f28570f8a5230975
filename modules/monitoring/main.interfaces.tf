# Generated from modules/interfaces/main.interfaces.tf.j2 (entry "monitoring" of modules.yaml) by
# `make fmt`; edit the template or that entry, not this file.
#
# The AVM interfaces of this module's main resource, driven by the variables of the same names:
# lock.
# No private endpoint: Log Analytics is reached privately through an AMPLS, not a plain
# private endpoint.
# No diagnostic settings: infra/ passes none (the workspace would send its own logs to itself).

resource "azurerm_management_lock" "this" {
  count = var.lock != null ? 1 : 0

  name       = coalesce(var.lock.name, "lock-${var.name}")
  scope      = azurerm_log_analytics_workspace.this.id
  lock_level = var.lock.kind
  notes      = "Managed by Terraform: remove the lock in code, not in the portal."
}
