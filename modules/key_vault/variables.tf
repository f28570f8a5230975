variable "name" {
  type        = string
  nullable    = false
  description = "Key Vault name: 3-24 characters, letters, digits and hyphens, starting with a letter, globally unique."

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", var.name))
    error_message = "Key Vault names are 3-24 characters of letters, digits and hyphens, start with a letter and end with a letter or digit."
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

variable "tenant_id" {
  type        = string
  nullable    = false
  description = "Entra tenant that the vault trusts for RBAC authorisation."

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.tenant_id))
    error_message = "tenant_id must be a GUID (lowercase), e.g. 00000000-0000-0000-0000-000000000000."
  }
}

variable "sku_name" {
  type        = string
  default     = "standard"
  nullable    = false
  description = "Key Vault SKU: standard, or premium for HSM-backed keys."

  validation {
    condition     = contains(["standard", "premium"], var.sku_name)
    error_message = "sku_name must be \"standard\" or \"premium\"."
  }
}

variable "soft_delete_retention_days" {
  type        = number
  default     = 90
  nullable    = false
  description = "Days a deleted vault or secret stays recoverable (7 to 90)."

  validation {
    condition     = var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 90
    error_message = "soft_delete_retention_days must be between 7 and 90."
  }
}

variable "public_network_access_enabled" {
  type        = bool
  default     = false
  nullable    = false
  description = "Whether the vault accepts traffic from public networks; prod turns it off and uses a private endpoint."
}

variable "allowed_ip_ranges" {
  type        = set(string)
  default     = []
  nullable    = false
  description = "Public CIDR ranges allowed through the vault firewall when public access is on."
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

variable "private_endpoints" {
  type = map(object({
    name                          = optional(string, null)
    subnet_resource_id            = string
    subresource_name              = string
    private_dns_zone_resource_ids = optional(set(string), [])
  }))
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
Private endpoints on the main resource (prod), by an arbitrary key known at plan time.

- `name` - (Optional) Name of the endpoint; null: `pep-<name>-<key>`.
- `subnet_resource_id` - (Required) ARM id of the subnet the endpoint's network interface joins.
- `subresource_name` - (Required) The Private Link group (sub-resource) to reach: `blob`, `dfs`,
  `vault`, `sqlServer`, `amlworkspace`, ...
- `private_dns_zone_resource_ids` - (Optional) ARM ids of the private DNS zones that get the
  endpoint's A records (a DNS zone group named `default`); empty: no zone group.
DESCRIPTION
}
