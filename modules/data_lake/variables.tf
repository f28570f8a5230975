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
  description = "Lifecycle of the raw file system: move to cool storage, then delete, after these many days since last modification."

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

variable "lock" {
  type = object({
    kind = string
    name = optional(string, null)
  })
  default     = null
  description = "A management lock on the main resource (prod sets CanNotDelete); null for none."

  validation {
    condition     = var.lock == null || contains(["CanNotDelete", "ReadOnly"], try(var.lock.kind, ""))
    error_message = "lock.kind must be \"CanNotDelete\" or \"ReadOnly\"."
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
  description = "Diagnostic settings sending the main resource's logs and metrics to Log Analytics."
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
  description = "Private endpoints on the main resource (prod); subresource_name is the Private Link group (blob, dfs, vault, ...)."
}
