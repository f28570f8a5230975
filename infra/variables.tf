# The stack's inputs. envs/dev/variables.tf and envs/prod/variables.tf are links to this file, so
# a bad value in a terraform.tfvars fails at the root with the rule it breaks, and the roots'
# declarations cannot drift from the stack's.

variable "environment" {
  type        = string
  nullable    = false
  description = "Which stack this is: dev (fed from main) or prod (fed from release/*)."

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "location" {
  type        = string
  nullable    = false
  description = "Azure region of the whole stack, e.g. westeurope."

  validation {
    condition     = can(regex("^[a-z]+[a-z0-9]*$", var.location))
    error_message = "location must be an Azure region name in lowercase without spaces, e.g. westeurope."
  }
}

variable "location_short" {
  type        = string
  nullable    = false
  description = "Short region code used in resource names, e.g. weu."

  validation {
    condition     = can(regex("^[a-z]{2,4}[0-9]?$", var.location_short))
    error_message = "location_short must be 2-4 lowercase letters, optionally followed by one digit (e.g. weu, neu, eus2)."
  }
}

variable "workload" {
  type        = string
  default     = "fcst"
  nullable    = false
  description = "Workload code at the start of every name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,5}$", var.workload))
    error_message = "workload must be 2-6 lowercase letters and digits, starting with a letter (storage and Key Vault names leave no more room)."
  }
}

variable "name_suffix" {
  type        = string
  nullable    = false
  description = "Short suffix that makes globally unique names (storage, Key Vault, registry, SQL, Data Factory, endpoints) unique."

  validation {
    condition     = can(regex("^[a-z0-9]{2,4}$", var.name_suffix))
    error_message = "name_suffix must be 2-4 lowercase letters and digits."
  }
}

variable "tags" {
  type        = map(string)
  nullable    = false
  description = "Organisation tags on every resource; owner, cost_centre and data_classification are required (environment is added from var.environment)."

  validation {
    condition     = alltrue([for key in ["owner", "cost_centre", "data_classification"] : try(length(trimspace(var.tags[key])) > 0, false)])
    error_message = "tags must include non-empty owner, cost_centre and data_classification."
  }

  validation {
    condition     = contains(["public", "internal", "confidential", "restricted"], lookup(var.tags, "data_classification", ""))
    error_message = "tags.data_classification must be one of public, internal, confidential, restricted."
  }
}

variable "network" {
  type = object({
    enabled       = bool
    address_space = optional(list(string), [])
    subnets = optional(map(object({
      address_prefix = string
      delegation     = optional(string, null)
    })), {})
  })
  nullable    = false
  description = <<-EOT
    The VNet for private endpoints (prod). When enabled, every data-plane service gets private
    endpoints and DNS. Fields:
    - enabled: whether the VNet, private endpoints and private DNS zones exist.
    - address_space: the VNet's CIDR blocks.
    - subnets: name => { address_prefix, delegation }; needs private_endpoints (no delegation)
      and powerbi_gateway (delegation = "Microsoft.PowerPlatform/vnetaccesslinks", the Power BI
      VNet data gateway: https://learn.microsoft.com/data-integration/vnet/create-data-gateways).
  EOT

  validation {
    condition     = !var.network.enabled || (length(var.network.address_space) > 0 && contains(keys(var.network.subnets), "private_endpoints") && contains(keys(var.network.subnets), "powerbi_gateway"))
    error_message = "an enabled network needs an address_space and subnets named private_endpoints and powerbi_gateway."
  }

  validation {
    condition     = !contains(keys(var.network.subnets), "powerbi_gateway") || try(var.network.subnets["powerbi_gateway"].delegation, null) == "Microsoft.PowerPlatform/vnetaccesslinks"
    error_message = "network.subnets.powerbi_gateway must be delegated to Microsoft.PowerPlatform/vnetaccesslinks, or the Power BI VNet data gateway cannot use it."
  }
}

variable "public_network_access_enabled" {
  type        = bool
  nullable    = false
  description = "Whether the data-plane services (lake, Key Vault, registry, SQL, workspace, factory) accept public traffic; off in prod."
}

variable "allowed_ip_ranges" {
  type        = set(string)
  default     = []
  nullable    = false
  description = "Public CIDR ranges (the team's egress) allowed through storage and Key Vault firewalls while public access is on."
}

variable "zone_redundant" {
  type        = bool
  nullable    = false
  description = "Zone redundancy where the service offers it (storage ZRS, registry, SQL database); on in prod."
}

variable "resource_locks_enabled" {
  type        = bool
  nullable    = false
  description = "CanNotDelete locks on the stateful resources (lake, Key Vault, workspace, SQL, factory, Log Analytics); on in prod."
}

variable "diagnostic_settings_enabled" {
  type        = bool
  default     = true
  nullable    = false
  description = "Send every resource's logs and metrics to Log Analytics."
}

variable "aml" {
  type = object({
    managed_network_isolation_mode = string
    node_public_ip_enabled         = bool
    gpu_vm_size                    = string
    gpu_max_nodes                  = number
    cpu_vm_size                    = string
    cpu_max_nodes                  = number
    vm_priority                    = string
  })
  nullable    = false
  description = "AML settings: managed network mode, node public IPs, cluster sizes and priority (LowPriority in dev, Dedicated in prod)."

  validation {
    condition     = contains(["LowPriority", "Dedicated"], var.aml.vm_priority)
    error_message = "aml.vm_priority must be LowPriority or Dedicated."
  }

  validation {
    condition     = can(regex("^Standard_N", var.aml.gpu_vm_size))
    error_message = "aml.gpu_vm_size must be a GPU (N-series) size, e.g. Standard_NC4as_T4_v3."
  }
}

variable "data_lake" {
  type = object({
    replication_type           = string
    soft_delete_retention_days = optional(number, 14)
    raw_cool_after_days        = optional(number, 30)
    raw_delete_after_days      = optional(number, 365)
  })
  nullable    = false
  description = "Data Lake redundancy, soft delete and the raw file system's lifecycle."
}

variable "sql" {
  type = object({
    entra_admin_login     = string
    entra_admin_object_id = string
    database_sku          = string
    defender_enabled      = bool
  })
  nullable    = false
  description = "The reporting database: its Entra administrator group (no SQL login exists), SKU and Defender."
}

variable "powerbi" {
  type = object({
    group_display_name = string
    group_object_id    = string
    firewall_rules = optional(map(object({
      start_ip_address = string
      end_ip_address   = string
    })), {})
  })
  nullable    = false
  description = "The Power BI Entra group and, while public access is on, the IP ranges it connects from."
}

variable "schedules" {
  type = object({
    time_zone          = string
    training_cron      = string
    scoring_cron       = string
    adf_trigger_active = bool
  })
  nullable    = false
  description = "When the weekly work runs: AML schedules (cron, used by stackctl deploy) and whether the ADF trigger is started."

  validation {
    condition     = alltrue([for cron in [var.schedules.training_cron, var.schedules.scoring_cron] : length(split(" ", cron)) == 5])
    error_message = "schedules.training_cron and scoring_cron must be five-field cron expressions, e.g. \"0 5 * * 1\"."
  }
}

variable "monitoring" {
  type = object({
    retention_in_days     = number
    alert_email_receivers = optional(map(string), {})
    mape_threshold        = optional(number, 0.45)
    stale_after_days      = optional(number, 60)
  })
  nullable    = false
  description = "Log retention, who the alerts e-mail, and the model-quality thresholds they watch."
}

variable "ci_runner_network" {
  type = object({
    resource_group_name  = string
    virtual_network_name = string
  })
  default     = null
  description = "The release pipeline's runner VNet (envs/bootstrap, modules/ci_runner), peered with the stack's VNet and linked to every private DNS zone, so the runner reaches the private endpoints; null (dev) when the pipeline runs on hosted runners. Needs network.enabled."

  validation {
    condition     = var.ci_runner_network == null || var.network.enabled
    error_message = "ci_runner_network needs network.enabled = true: there is no VNet to peer with otherwise."
  }
}
