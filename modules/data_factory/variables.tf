variable "name" {
  type        = string
  nullable    = false
  description = "Data Factory name: 3-63 letters, digits and hyphens, starting and ending with a letter or digit, globally unique."

  validation {
    condition     = can(regex("^[a-zA-Z0-9](?:[a-zA-Z0-9-]{1,61}[a-zA-Z0-9])$", var.name))
    error_message = "Data Factory names are 3-63 letters, digits and hyphens, start and end with a letter or digit."
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

variable "data_lake" {
  type = object({
    resource_id  = string
    dfs_endpoint = string
  })
  nullable    = false
  description = "The Data Lake the pipeline copies within (raw -> conditioned)."
}

variable "sql" {
  type = object({
    server_id     = string
    server_fqdn   = string
    database_name = string
  })
  nullable    = false
  description = "The reporting database, linked with the factory's managed identity (no password in the connection string)."
}

variable "key_vault_id" {
  type        = string
  nullable    = false
  description = "ARM id of the Key Vault linked to the factory."
}

variable "aml" {
  type = object({
    workspace_id        = string
    training_invoke_uri = string
    scoring_invoke_uri  = string
    input_data_uri      = string
    datastores          = map(string)
  })
  nullable    = false
  description = "AML workspace, the invoke URIs of the training and scoring batch endpoints (named by convention, created by stackctl deploy), the azureml:// URI of the folder the copy step fills, passed to both pipelines as their raw_data input, and the AML datastore of each lake file system (`conditioned`, `scored`: where the scoring job's outputs go)."

  validation {
    condition     = alltrue([for fs in ["conditioned", "scored"] : contains(keys(var.aml.datastores), fs)])
    error_message = "aml.datastores must name the AML datastores of the lake's conditioned and scored file systems."
  }
}

variable "pipeline_name" {
  type        = string
  default     = "weekly-forecast"
  nullable    = false
  description = "Name of the weekly pipeline."
}

variable "schedule" {
  type = object({
    activated    = bool
    time_zone    = optional(string, "UTC")
    days_of_week = optional(list(string), ["Monday"])
    hours        = optional(list(number), [5])
    minutes      = optional(list(number), [0])
  })
  nullable    = false
  description = "The weekly trigger; activated in prod, stopped in dev by default."
}

variable "managed_virtual_network_enabled" {
  type        = bool
  default     = true
  nullable    = false
  description = "Run copies and Web activities on the factory's managed-VNet integration runtime, reaching the lake, SQL, Key Vault and the AML workspace through managed private endpoints that Terraform approves (both environments: no firewall has to admit Azure services)."
}

variable "public_network_enabled" {
  type        = bool
  default     = false
  nullable    = false
  description = "Whether the factory's endpoints accept public traffic; prod turns it off."
}

# --- AVM interface variables: the same names and shapes in every module ---

variable "managed_identities" {
  type = object({
    system_assigned            = optional(bool, true)
    user_assigned_resource_ids = optional(set(string), [])
  })
  default     = {}
  nullable    = false
  description = "Identities of the factory: system-assigned (always on: its linked services and the batch endpoint calls authenticate with it) plus optional user-assigned ones."

  validation {
    condition     = var.managed_identities.system_assigned
    error_message = "the factory needs its system-assigned identity: its linked services and the batch endpoint calls authenticate with it."
  }
}

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
