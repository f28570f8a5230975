variable "name" {
  type        = string
  nullable    = false
  description = "Logical server name: 1-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen, globally unique."

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "SQL server names are 1-63 lowercase letters, digits and hyphens and cannot start or end with a hyphen."
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

variable "entra_administrator" {
  type = object({
    login_username = string
    object_id      = string
  })
  nullable    = false
  description = <<DESCRIPTION
The Entra group or principal that administers the server; SQL authentication is disabled, so
there is no SQL password anywhere.

- `login_username` - (Required) Its display name.
- `object_id` - (Required) Its object id (a GUID).
DESCRIPTION

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.entra_administrator.object_id))
    error_message = "entra_administrator.object_id must be the GUID of the Entra group or principal."
  }
}

variable "database_name" {
  type        = string
  default     = "reporting"
  nullable    = false
  description = "The reporting database that Power BI reads."
}

variable "database_sku" {
  type        = string
  default     = "GP_S_Gen5_1"
  nullable    = false
  description = <<-EOT
    Reporting database SKU (sku_name): a DTU SKU such as S0 in dev, or a vCore SKU in prod:
    GP_Gen5_2 / GP_S_Gen5_1 (General Purpose, provisioned / serverless), BC_Gen5_2 (Business
    Critical), HS_Gen5_2 (Hyperscale). Only Premium (P*), Business Critical, General Purpose and
    Hyperscale offer zone redundancy (see var.zone_redundant).
  EOT

  validation {
    condition     = can(regex("^(Basic|S[0-9]+|P[0-9]+|GP_(S_)?Gen5_[0-9]+|BC_Gen5_[0-9]+|HS_(S_)?Gen5_[0-9]+|GP_Fsv2_[0-9]+|GP_DC_[0-9]+|BC_DC_[0-9]+|HS_PRMS_[0-9]+|HS_MOPRMS_[0-9]+)$", var.database_sku))
    error_message = "database_sku must be an Azure SQL Database sku_name such as S0, P1, GP_Gen5_2, GP_S_Gen5_1, BC_Gen5_2 or HS_Gen5_2."
  }
}

variable "zone_redundant" {
  type        = bool
  default     = true
  nullable    = false
  description = "Zone-redundant database (prod). Needs a SKU that offers it: Premium, Business Critical, General Purpose or Hyperscale, never Basic or Standard (checked at plan by the database's precondition, main.tf)."
}

variable "public_network_access_enabled" {
  type        = bool
  default     = false
  nullable    = false
  description = "Whether the server accepts public traffic (firewall rules still apply); prod turns it off."
}

variable "defender_enabled" {
  type        = bool
  default     = false
  nullable    = false
  description = "Microsoft Defender for SQL threat detection (on in prod)."
}

variable "security_alert_emails" {
  type        = list(string)
  default     = []
  nullable    = false
  description = "Who Defender for SQL e-mails about threats (besides the Entra administrators)."
}

variable "log_analytics_workspace_id" {
  type        = string
  nullable    = false
  description = "Log Analytics workspace receiving the server's audit log."
}

variable "reporting_schema" {
  type        = string
  default     = "reporting"
  nullable    = false
  description = "Schema the glue creates for the reporting tables and views."
}

variable "contained_user_principals" {
  type = map(object({
    display_name = string
    client_id    = optional(string, null)
    object_id    = optional(string, null)
    type         = optional(string, "E")
  }))
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
Identities that get contained database users, by purpose (aml, adf, job, powerbi). The glue
creates each with `CREATE USER [display_name] WITH SID = <id as binary>, TYPE = E|X`, so the SQL
server needs no Directory Readers role (FROM EXTERNAL PROVIDER would look the name up in
Microsoft Graph with the server's identity)
(https://learn.microsoft.com/sql/t-sql/statements/create-user-transact-sql?view=azuresqldb-current#create-a-user-for-a-microsoft-entra-principal-without-using-a-directory-lookup).

- `display_name` - (Required) The Entra display name (workspace, factory or group name).
- `client_id` - (Optional) Application (client) id of a managed identity or service principal
  (type E); the SID is this GUID's bytes.
- `object_id` - (Optional) Object id of an Entra group (type X); the SID is this GUID's bytes.
- `type` - (Optional) `E` (managed identity, service principal or user) or `X` (group);
  default `E`.
DESCRIPTION

  validation {
    condition     = alltrue([for user in values(var.contained_user_principals) : contains(["E", "X"], user.type) && (user.type == "E" ? user.client_id != null : user.object_id != null)])
    error_message = "each contained_user_principals entry needs type E with client_id (a managed identity) or type X with object_id (a group)."
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
