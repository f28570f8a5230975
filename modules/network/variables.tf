variable "name" {
  type        = string
  nullable    = false
  description = "VNet name: 2-64 letters, digits, underscores, periods and hyphens."

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}[a-zA-Z0-9_]$", var.name))
    error_message = "VNet names are 2-64 letters, digits, underscores, periods and hyphens, starting with a letter or digit and ending with a letter, digit or underscore."
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

variable "address_space" {
  type        = list(string)
  nullable    = false
  description = "Address space of the VNet, e.g. [\"10.40.0.0/22\"]."

  validation {
    condition     = length(var.address_space) > 0 && alltrue([for cidr in var.address_space : can(cidrhost(cidr, 0))])
    error_message = "address_space must hold at least one valid CIDR block."
  }
}

variable "subnets" {
  type = map(object({
    address_prefix = string
    delegation     = optional(string, null)
  }))
  nullable    = false
  description = <<DESCRIPTION
Subnets by purpose. The stack uses `private_endpoints` (every private endpoint, no delegation)
and `powerbi_gateway` (the Power BI VNet data gateway,
https://learn.microsoft.com/data-integration/vnet/create-data-gateways).

- `address_prefix` - (Required) The subnet's CIDR block, inside `address_space`.
- `delegation` - (Optional) The service the subnet is delegated to (`powerbi_gateway`:
  `Microsoft.PowerPlatform/vnetaccesslinks`); null: none.
DESCRIPTION

  validation {
    condition     = alltrue([for subnet in values(var.subnets) : can(cidrhost(subnet.address_prefix, 0))])
    error_message = "every subnets.*.address_prefix must be a valid CIDR block."
  }
}

variable "private_dns_zones" {
  type        = set(string)
  nullable    = false
  description = "Private DNS zones to create and link to the VNet, one per private endpoint kind used."

  validation {
    condition     = alltrue([for zone in var.private_dns_zones : startswith(zone, "privatelink.")])
    error_message = "private DNS zone names for Private Link start with \"privatelink.\"."
  }
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

variable "diagnostic_settings" {
  type = map(object({
    name                  = optional(string, null)
    log_categories        = optional(set(string), [])
    log_groups            = optional(set(string), ["allLogs"])
    metric_categories     = optional(set(string), ["AllMetrics"])
    workspace_resource_id = string
    # Resource-specific tables (ADFPipelineRun, ...) are what the alert queries read.
    log_analytics_destination_type = optional(string, "Dedicated")
  }))
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
Diagnostic settings sending the main resource's logs and metrics to Log Analytics, by an arbitrary key
known at plan time.

- `name` - (Optional) Name of the setting; null: `diag-<name>`.
- `log_categories` - (Optional) Log categories to send, by name; default none.
- `log_groups` - (Optional) Log category groups to send; default `["allLogs"]`.
- `metric_categories` - (Optional) Metric categories to send; default `["AllMetrics"]`.
- `workspace_resource_id` - (Required) ARM id of the Log Analytics workspace that receives them.
- `log_analytics_destination_type` - (Optional) `Dedicated` (resource-specific tables, what the
  alert queries read) or `AzureDiagnostics` (the legacy shared table); default `Dedicated`.
DESCRIPTION

  validation {
    condition     = alltrue([for setting in values(var.diagnostic_settings) : contains(["Dedicated", "AzureDiagnostics"], setting.log_analytics_destination_type)])
    error_message = "diagnostic_settings.*.log_analytics_destination_type must be \"Dedicated\" or \"AzureDiagnostics\"."
  }
}
