# What Power BI needs to reach the reporting database: a network path (named IP ranges in dev; in
# prod the VNet data gateway in its delegated subnet, which reaches the server's one private
# endpoint from modules/sql) and read access for its Entra group.
resource "azurerm_mssql_firewall_rule" "this" {
  for_each = var.firewall_rules

  name             = "powerbi-${each.key}"
  server_id        = var.sql_server_id
  start_ip_address = each.value.start_ip_address
  end_ip_address   = each.value.end_ip_address
}

# Control-plane visibility of the server for the group (listing it in the portal and in the
# Power BI gateway set-up); data access is the contained user the glue creates.
resource "azurerm_role_assignment" "reader" {
  scope                = var.sql_server_id
  role_definition_name = "Reader"
  principal_id         = var.powerbi_group.object_id
  principal_type       = "Group"
}
