# Generated from modules/interfaces/main.interfaces.tf.j2 (entry "sql" of modules.yaml) by
# `make fmt`; edit the template or that entry, not this file.
#
# The AVM interfaces of this module's main resource, driven by the variables of the same names:
# diagnostic settings, private endpoints.
# Diagnostic settings target the reporting database: a logical server emits no logs of its own.

resource "azurerm_monitor_diagnostic_setting" "this" {
  for_each = var.diagnostic_settings

  name                       = coalesce(each.value.name, "diag-${var.name}")
  target_resource_id         = azurerm_mssql_database.this.id
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
    # AllMetrics is read back as this target's categories: written as they come back, no plan diff
    # (Azure/terraform-azurerm-avm-res-storage-storageaccount locals.diagnostics.tf, PR #387).
    for_each = ["Basic", "InstanceAndAppAdvanced", "WorkloadManagement"]
    content {
      category = enabled_metric.value
    }
  }
}

resource "azurerm_private_endpoint" "this" {
  for_each = var.private_endpoints

  name                = coalesce(each.value.name, "pep-${var.name}-${each.key}")
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = each.value.subnet_resource_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}-${each.key}"
    private_connection_resource_id = azurerm_mssql_server.this.id
    subresource_names              = [each.value.subresource_name]
    is_manual_connection           = false
  }

  dynamic "private_dns_zone_group" {
    for_each = length(each.value.private_dns_zone_resource_ids) > 0 ? [1] : []
    content {
      name                 = "default"
      private_dns_zone_ids = each.value.private_dns_zone_resource_ids
    }
  }
}
