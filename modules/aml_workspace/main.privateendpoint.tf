# Private endpoints of the workspace's dependencies (its storage: blob, file, queue, table; its
# registry); the workspace's own endpoint comes from var.private_endpoints (main.interfaces.tf).
# Batch endpoints in a private workspace need the storage's queue and table too. (validated in variables.tf)
# https://learn.microsoft.com/azure/machine-learning/how-to-secure-batch-endpoint#securing-batch-endpoints
resource "azurerm_private_endpoint" "dependency" {
  for_each = var.dependency_private_endpoints

  name                = "pep-${var.name}-${each.key}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = each.value.subnet_resource_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}-${each.key}"
    private_connection_resource_id = each.key == "registry" ? azurerm_container_registry.this.id : azurerm_storage_account.workspace.id
    subresource_names              = [each.key]
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
