# What Power BI needs to reach the reporting database: a network path (firewall rule in dev,
# private endpoint for the VNet data gateway in prod) and read access for its Entra group.
resource "azurerm_mssql_firewall_rule" "this" {
  for_each = var.firewall_rules

  name             = "powerbi-${each.key}"
  server_id        = var.sql_server_id
  start_ip_address = each.value.start_ip_address
  end_ip_address   = each.value.end_ip_address
}

resource "azurerm_private_endpoint" "gateway" {
  count = var.gateway_private_endpoint != null ? 1 : 0

  name                = "pep-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.gateway_private_endpoint.subnet_resource_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}"
    private_connection_resource_id = var.sql_server_id
    subresource_names              = ["sqlServer"]
    is_manual_connection           = false
  }

  dynamic "private_dns_zone_group" {
    for_each = length(var.gateway_private_endpoint.private_dns_zone_resource_ids) > 0 ? [1] : []
    content {
      name                 = "default"
      private_dns_zone_ids = var.gateway_private_endpoint.private_dns_zone_resource_ids
    }
  }
}

# Control-plane visibility of the server for the group (listing it in the portal and in the
# Power BI gateway set-up); data access is the contained user the glue creates.
resource "azurerm_role_assignment" "reader" {
  scope                = var.sql_server_id
  role_definition_name = "Reader"
  principal_id         = var.powerbi_group.object_id
  principal_type       = "Group"
}
