variable "name" {
  type        = string
  nullable    = false
  description = "Base name for this module's resources (the private endpoint)."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,62}$", var.name))
    error_message = "name must be 2-63 lowercase letters, digits and hyphens."
  }
}

variable "location" {
  type        = string
  nullable    = false
  description = "Azure region of every resource in this module, e.g. westeurope."
}

variable "resource_group_name" {
  type        = string
  nullable    = false
  description = "Resource group that holds this module's resources."
}

variable "sql_server_id" {
  type        = string
  nullable    = false
  description = "ARM id of the logical server holding the reporting database."
}

variable "sql_server_fqdn" {
  type        = string
  nullable    = false
  description = "FQDN that Power BI connects to."
}

variable "database_name" {
  type        = string
  nullable    = false
  description = "The reporting database."
}

variable "reporting_schema" {
  type        = string
  default     = "reporting"
  nullable    = false
  description = "Schema of the views Power BI reads."
}

variable "views" {
  type        = list(string)
  default     = ["v_forecasts", "v_backtest", "v_model_metrics", "v_model_health", "v_pipeline_runs", "v_step_runs", "v_data_quality"]
  nullable    = false
  description = "Views of the reporting schema that the Power BI model imports."
}

variable "powerbi_group" {
  type = object({
    display_name = string
  })
  nullable    = false
  description = <<DESCRIPTION
Entra group of Power BI dataset owners and gateways; the glue grants it db_datareader on the
reporting schema.

- `display_name` - (Required) The group's display name (its contained user's name; the
  contained user is created by the group's object id in infra/, var.powerbi.group_object_id).
DESCRIPTION
}

variable "firewall_rules" {
  type = map(object({
    start_ip_address = string
    end_ip_address   = string
  }))
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
Named public IP ranges of people and on-premises gateways allowed to reach the server while
public access is on (dev), by rule name. Never 0.0.0.0: that rule admits every Azure customer's
services, not only ours
(https://learn.microsoft.com/azure/azure-sql/database/firewall-configure#connections-from-inside-azure).

- `start_ip_address` - (Required) First IPv4 address of the range.
- `end_ip_address` - (Required) Last IPv4 address of the range.
DESCRIPTION

  validation {
    condition     = alltrue([for rule in values(var.firewall_rules) : rule.start_ip_address != "0.0.0.0" && rule.end_ip_address != "0.0.0.0"])
    error_message = "firewall_rules must not hold a 0.0.0.0 rule (\"Allow Azure services\" admits every tenant's Azure services); name the IP ranges, and let Azure services in through private endpoints."
  }
}

variable "gateway_subnet_id" {
  type        = string
  default     = null
  description = <<-EOT
    The subnet delegated to Microsoft.PowerPlatform/vnetaccesslinks where the Power BI virtual
    network data gateway runs (prod); it reaches SQL through the server's one private endpoint
    (modules/sql) and its private DNS zone. null when Power BI comes in through the firewall (dev).
    https://learn.microsoft.com/data-integration/vnet/create-data-gateways
  EOT
}

# --- AVM interface variables: the same names and shapes in every module ---

variable "tags" {
  type        = map(string)
  nullable    = false
  description = "Tags applied to every resource this module creates: environment, owner, cost_centre and data_classification are required (infra/ sets them)."

  validation {
    condition     = alltrue([for key in ["environment", "owner", "cost_centre", "data_classification"] : contains(keys(var.tags), key)])
    error_message = "tags must include environment, owner, cost_centre and data_classification."
  }
}

