# Server auditing goes to Log Analytics through the master database's diagnostic setting.
resource "azurerm_mssql_server_extended_auditing_policy" "this" {
  server_id              = azurerm_mssql_server.this.id
  log_monitoring_enabled = true
}

resource "azurerm_monitor_diagnostic_setting" "audit" {
  name                       = "audit-${var.name}"
  target_resource_id         = "${azurerm_mssql_server.this.id}/databases/master"
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "SQLSecurityAuditEvents"
  }

  depends_on = [azurerm_mssql_server_extended_auditing_policy.this]
}

resource "azurerm_mssql_server_security_alert_policy" "this" {
  #checkov:skip=CKV_AZURE_27:email_account_admins_enabled = true is set below; azurerm 5.x renamed the argument and checkov 3.3's CKV_AZURE_27 still reads the 4.x name email_account_admins.
  count = var.defender_enabled ? 1 : 0

  resource_group_name          = var.resource_group_name
  server_name                  = azurerm_mssql_server.this.name
  state                        = "Enabled"
  email_account_admins_enabled = true
  email_addresses              = var.security_alert_emails
}
