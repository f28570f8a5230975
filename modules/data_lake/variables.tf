variable "name" {
  type        = string
  nullable    = false
  description = "Storage account name: 3-24 lowercase letters and digits, globally unique."

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.name))
    error_message = "Storage account names are 3-24 lowercase letters and digits only (no hyphens)."
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

variable "file_systems" {
  type        = set(string)
  default     = ["raw", "conditioned", "scored"]
  nullable    = false
  description = "ADLS Gen2 file systems (containers) the pipeline uses: raw lands from ADF, conditioned feeds training, scored holds forecasts."

  validation {
    condition     = alltrue([for fs in var.file_systems : can(regex("^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$", fs))])
    error_message = "file system names are 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "replication_type" {
  type        = string
  default     = "ZRS"
  nullable    = false
  description = "Storage redundancy: LRS in dev; ZRS (zone redundant) or GZRS in prod."

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS", "RAGRS", "RAGZRS"], var.replication_type)
    error_message = "replication_type must be one of LRS, ZRS, GRS, GZRS, RAGRS, RAGZRS."
  }
}

variable "public_network_access_enabled" {
  type        = bool
  default     = false
  nullable    = false
  description = "Whether the account accepts traffic from public networks; prod turns it off (private endpoints for blob and dfs)."
}

variable "allowed_ip_ranges" {
  type        = set(string)
  default     = []
  nullable    = false
  description = "Public CIDR ranges allowed through the storage firewall when public access is on."

  # Azure Storage refuses /31 and /32 prefixes in IP rules: a single address goes bare.
  # https://learn.microsoft.com/azure/storage/common/storage-network-security-limitations
  validation {
    condition     = alltrue([for range in var.allowed_ip_ranges : !can(regex("/3[12]$", range))])
    error_message = "allowed_ip_ranges: a storage firewall takes a single address without a prefix (\"198.51.100.20\", not \"198.51.100.20/32\"); Azure Storage refuses /31 and /32 in IP rules."
  }
}

variable "allowed_subnet_ids" {
  type        = set(string)
  default     = []
  nullable    = false
  description = "ARM ids of subnets admitted by VNet rule while public access is on (dev's CI runner subnet, whose Microsoft.Storage.Global service endpoint makes its requests arrive from private VNet addresses, which no IP rule matches)."
}

variable "resource_access_rules" {
  type        = map(string)
  default     = {}
  nullable    = false
  description = "Resource-instance rules of the firewall, purpose => ARM id of an Azure resource whose managed identity may pass (the AML workspace, the data factory); their RBAC roles still decide what they may do."
}

variable "soft_delete_retention_days" {
  type        = number
  default     = 14
  nullable    = false
  description = "Days deleted blobs and file systems stay recoverable (1 to 365)."

  validation {
    condition     = var.soft_delete_retention_days >= 1 && var.soft_delete_retention_days <= 365
    error_message = "soft_delete_retention_days must be between 1 and 365."
  }
}

variable "raw_lifecycle" {
  type = object({
    cool_after_days   = optional(number, 30)
    delete_after_days = optional(number, 365)
  })
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
Lifecycle of the raw file system, counted in days since a file's last modification.

- `cool_after_days` - (Optional) Days before it moves to the cool tier; default 30.
- `delete_after_days` - (Optional) Days before it is deleted, more than `cool_after_days`;
  default 365.
DESCRIPTION

  validation {
    condition     = var.raw_lifecycle.cool_after_days < var.raw_lifecycle.delete_after_days
    error_message = "raw_lifecycle.cool_after_days must be smaller than delete_after_days."
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
