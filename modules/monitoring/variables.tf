variable "name" {
  type        = string
  nullable    = false
  description = "Log Analytics workspace name: 4-63 letters, digits and hyphens, starting and ending with a letter or digit."

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]$", var.name))
    error_message = "Log Analytics workspace names are 4-63 letters, digits and hyphens, starting and ending with a letter or digit."
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

variable "application_insights_name" {
  type        = string
  nullable    = false
  description = "Name of the workspace-based Application Insights that the AML workspace and the model's jobs report to."
}

variable "retention_in_days" {
  type        = number
  default     = 30
  nullable    = false
  description = "Log Analytics retention (30 to 730 days)."

  validation {
    condition     = var.retention_in_days >= 30 && var.retention_in_days <= 730
    error_message = "retention_in_days must be between 30 and 730."
  }
}

variable "alert_email_receivers" {
  type        = map(string)
  default     = {}
  nullable    = false
  description = "Who the action group emails, as name => address."

  validation {
    condition     = alltrue([for address in values(var.alert_email_receivers) : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "every alert_email_receivers value must be an e-mail address."
  }
}

variable "alerts" {
  type = object({
    enabled          = optional(bool, true)
    mape_threshold   = optional(number, 0.45)
    stale_after_days = optional(number, 60)
    severity         = optional(number, 2)
    model_name       = optional(string, "demand-forecast")
  })
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
Alert rules: a failed pipeline, a model whose MAPE exceeds `mape_threshold`, a model older than
`stale_after_days`.

- `enabled` - (Optional) Whether the alert rules exist; default true.
- `mape_threshold` - (Optional) MAPE above which a model raises an alert, positive; default 0.45.
- `stale_after_days` - (Optional) Age in days above which a model raises an alert, positive;
  default 60.
- `severity` - (Optional) Severity of the alerts, 0 (critical) to 4 (verbose); default 2.
- `model_name` - (Optional) Registered model whose MAPE and age the rules watch (the production
  model, not a release's validation model); default "demand-forecast".
DESCRIPTION

  validation {
    condition     = var.alerts.mape_threshold > 0 && var.alerts.stale_after_days > 0 && var.alerts.severity >= 0 && var.alerts.severity <= 4
    error_message = "alerts.mape_threshold and stale_after_days must be positive, severity between 0 and 4."
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

