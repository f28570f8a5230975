# The workspace's own dependencies report to the same Log Analytics workspace as the workspace
# (main.interfaces.tf), so image pulls and artifact access are auditable too.
resource "azurerm_monitor_diagnostic_setting" "container_registry" {
  for_each = var.diagnostic_settings

  name                           = coalesce(each.value.name, "diag-${var.container_registry_name}")
  target_resource_id             = azurerm_container_registry.this.id
  log_analytics_workspace_id     = each.value.workspace_resource_id
  log_analytics_destination_type = each.value.log_analytics_destination_type

  dynamic "enabled_log" {
    for_each = each.value.log_groups
    content {
      category_group = enabled_log.value
    }
  }

  dynamic "enabled_metric" {
    for_each = each.value.metric_categories
    content {
      category = enabled_metric.value
    }
  }
}

resource "azurerm_monitor_diagnostic_setting" "storage_blob" {
  for_each = var.diagnostic_settings

  name                       = coalesce(each.value.name, "diag-${var.storage_account_name}")
  target_resource_id         = "${azurerm_storage_account.workspace.id}/blobServices/default"
  log_analytics_workspace_id = each.value.workspace_resource_id
  # Storage services: the destination type is not echoed and AllMetrics is read back as
  # Capacity and Transaction, so both are written as Azure returns them: no diff on every plan.
  # (issue 22 item 11; azure-rest-api-specs#22400; AVM storage module locals.diagnostics.tf)
  log_analytics_destination_type = null

  dynamic "enabled_log" {
    for_each = each.value.log_groups
    content {
      category_group = enabled_log.value
    }
  }

  dynamic "enabled_metric" {
    for_each = ["Capacity", "Transaction"]
    content {
      category = enabled_metric.value
    }
  }
}

# Batch endpoints use the queue service of the workspace storage (main.privateendpoint.tf), so its
# logs go to Log Analytics as well.
resource "azurerm_monitor_diagnostic_setting" "storage_queue" {
  for_each = var.diagnostic_settings

  name                       = coalesce(each.value.name, "diag-${var.storage_account_name}-queue")
  target_resource_id         = "${azurerm_storage_account.workspace.id}/queueServices/default"
  log_analytics_workspace_id = each.value.workspace_resource_id
  # Storage services: the destination type is not echoed and AllMetrics is read back as
  # Capacity and Transaction, so both are written as Azure returns them: no diff on every plan.
  # (issue 22 item 11; azure-rest-api-specs#22400; AVM storage module locals.diagnostics.tf)
  log_analytics_destination_type = null

  dynamic "enabled_log" {
    for_each = each.value.log_groups
    content {
      category_group = enabled_log.value
    }
  }

  dynamic "enabled_metric" {
    for_each = ["Capacity", "Transaction"]
    content {
      category = enabled_metric.value
    }
  }
}
