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
    object_id    = string
  })
  nullable    = false
  description = "Entra group of Power BI dataset owners/gateways; the glue grants it db_datareader on the reporting schema."
}

variable "firewall_rules" {
  type = map(object({
    start_ip_address = string
    end_ip_address   = string
  }))
  default     = {}
  nullable    = false
  description = "Public IP ranges (the Power BI service or an on-premises gateway) allowed to reach the server; only used while public access is on."
}

variable "gateway_private_endpoint" {
  type = object({
    subnet_resource_id            = string
    private_dns_zone_resource_ids = optional(set(string), [])
  })
  default     = null
  description = "A private endpoint for the Power BI VNet data gateway (prod); null when Power BI comes in through the firewall."
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

