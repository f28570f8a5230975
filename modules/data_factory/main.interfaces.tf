# Generated from modules/interfaces/main.interfaces.tf.j2 (entry "data_factory" of modules.yaml) by
# `make fmt`; edit the template or that entry, not this file.
#
# The AVM interfaces of this module's main resource, driven by the variables of the same names:
# diagnostic settings.
# No private endpoint: infra/ passes none (the factory reaches the lake, SQL, Key Vault and the
# workspace through managed private endpoints of its own, main.tf).

resource "azurerm_monitor_diagnostic_setting" "this" {
  for_each = var.diagnostic_settings

  name                           = coalesce(each.value.name, "diag-${var.name}")
  target_resource_id             = azurerm_data_factory.this.id
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
