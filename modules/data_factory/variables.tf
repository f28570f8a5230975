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
  description = <<DESCRIPTION
The Data Lake the pipeline copies within (raw -> conditioned).

- `resource_id` - (Required) ARM id of the storage account (the managed private endpoint's
  target).
- `dfs_endpoint` - (Required) Its primary DFS endpoint, the linked service's URL.
DESCRIPTION
}

variable "sql" {
  type = object({
    server_id     = string
    server_fqdn   = string
    database_name = string
  })
  nullable    = false
  description = <<DESCRIPTION
The reporting database, linked with the factory's managed identity (no password in the
connection string).

- `server_id` - (Required) ARM id of the logical server (the managed private endpoint's target).
- `server_fqdn` - (Required) The server's fully qualified domain name.
- `database_name` - (Required) The reporting database's name.
DESCRIPTION
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
  description = <<DESCRIPTION
The AML side of the weekly pipeline.

- `workspace_id` - (Required) ARM id of the workspace (the managed private endpoint's target).
- `training_invoke_uri` - (Required) Invoke URI of the training batch endpoint (named by
  convention, created by stackctl deploy).
- `scoring_invoke_uri` - (Required) Invoke URI of the scoring batch endpoint.
- `input_data_uri` - (Required) The `azureml://` URI of the folder the copy step fills, passed to
  both pipelines as their `raw_data` input.
- `datastores` - (Required) The AML datastore of each lake file system, by file system name
  (`conditioned`, `scored`: where the scoring job's outputs go). They must be AzureBlob datastores:
  batch endpoints write outputs only to Blob Storage datastores
  (https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs).
DESCRIPTION

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
  description = <<DESCRIPTION
The weekly schedule trigger; activated in prod, stopped in dev.

- `activated` - (Required) Whether the trigger is started.
- `time_zone` - (Optional) Windows time zone of the times below; default `UTC`.
- `days_of_week` - (Optional) Days it fires; default `["Monday"]`.
- `hours` - (Optional) Hours it fires, 0-23; default `[5]`.
- `minutes` - (Optional) Minutes it fires, 0-59; default `[0]`.
DESCRIPTION
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
