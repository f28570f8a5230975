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

# No Azure role for the group: Power BI reads the views as the group's contained database user
# (db_datareader on the reporting schema, created by `stackctl deploy`), which needs no ARM right on
# the server; the VNet data gateway's set-up needs rights on its subnet, not on SQL
# (https://learn.microsoft.com/data-integration/vnet/create-data-gateways). A Reader assignment to
# the group here was refused at every first apply: the deploying identity may assign roles only to
# service principals (envs/bootstrap/main.rbac.tf, local.only_assignable_roles; review 22 runtime N2).
