# The AVM interfaces of this module's main resource: lock, diagnostic settings
# (Log Analytics is reached privately through an AMPLS, not a plain private endpoint), all driven by the variables of the same names.

resource "azurerm_management_lock" "this" {
  count = var.lock != null ? 1 : 0

  name       = coalesce(var.lock.name, "lock-${var.name}")
  scope      = azurerm_log_analytics_workspace.this.id
  lock_level = var.lock.kind
  notes      = "Managed by Terraform: remove the lock in code, not in the portal."
}

resource "azurerm_monitor_diagnostic_setting" "this" {
  for_each = var.diagnostic_settings

  name                           = coalesce(each.value.name, "diag-${var.name}")
  target_resource_id             = azurerm_log_analytics_workspace.this.id
  log_analytics_workspace_id     = each.value.workspace_resource_id
  log_analytics_destination_type = each.value.log_analytics_destination_type

  dynamic "enabled_log" {
    for_each = each.value.log_groups
    content {
      category_group = enabled_log.value
    }
  }

  dynamic "enabled_log" {
    for_each = each.value.log_categories
    content {
      category = enabled_log.value
    }
  }

  dynamic "enabled_metric" {
    for_each = each.value.metric_categories
    content {
      category = enabled_metric.value
    }
  }
}
