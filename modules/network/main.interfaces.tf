# Generated from modules/interfaces/main.interfaces.tf.j2 (entry "network" of modules.yaml) by
# `make fmt`; edit the template or that entry, not this file.
#
# The AVM interfaces of this module's main resource, driven by the variables of the same names:
# diagnostic settings.
# No private endpoint (a VNet takes none) and no lock (infra/ passes none).

resource "azurerm_monitor_diagnostic_setting" "this" {
  for_each = var.diagnostic_settings

  name                       = coalesce(each.value.name, "diag-${var.name}")
  target_resource_id         = azurerm_virtual_network.this.id
  log_analytics_workspace_id = each.value.workspace_resource_id
  # Azure does not echo logAnalyticsDestinationType for this target: left unset, no plan diff
  # (azure-rest-api-specs#22400; hashicorp/terraform-provider-azurerm#22406).
  log_analytics_destination_type = null

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
