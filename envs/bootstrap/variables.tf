variable "workload" {
  type        = string
  description = "Workload short name, the same as envs/<env>/terraform.tfvars (names derive from it)."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,7}$", var.workload))
    error_message = "workload must be 2-8 lowercase letters and digits."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the bootstrap resources and the stacks' resource groups, e.g. westeurope."
  nullable    = false
}

variable "location_short" {
  type        = string
  description = "Short region code used in names, the same as envs/<env>/terraform.tfvars (e.g. weu)."
  nullable    = false
}

variable "name_suffix" {
  type        = string
  description = "Suffix making the globally unique names (registry, vault) unique, e.g. p01."
  nullable    = false
}

variable "state_storage_account_name" {
  type        = string
  description = "Globally unique name of the state storage account (3-24 lowercase letters and digits)."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.state_storage_account_name))
    error_message = "state_storage_account_name must be 3-24 lowercase letters and digits."
  }
}

variable "github" {
  type = object({
    owner      = string
    repository = string
  })
  description = "The GitHub repository whose release workflow deploys (federated credentials for its environments dev-plan, dev, prod-plan, prod); null when only Azure DevOps is used."
  default     = null
}

variable "azure_devops" {
  type = object({
    organization        = string
    organization_id     = string
    project             = string
    service_connections = map(string)
  })
  description = "Azure DevOps organisation (name and id), project, and the workload-identity service connection name per identity: keys dev and prod (the deploying identity, apply stage) and dev-plan and prod-plan (the read-only plan identity, plan stage); null when only GitHub is used."
  default     = null

  validation {
    condition     = var.azure_devops == null || alltrue([for key in keys(try(var.azure_devops.service_connections, {})) : contains(["dev", "prod", "dev-plan", "prod-plan"], key)])
    error_message = "azure_devops.service_connections keys must be among dev, prod (apply) and dev-plan, prod-plan (plan)."
  }
}

variable "ci_runner" {
  type = object({
    enabled                        = optional(bool, true)
    platform                       = optional(string, "github")
    address_space                  = optional(list(string), ["10.41.0.0/24"])
    subnet_prefix                  = optional(string, "10.41.0.0/27")
    image_tag                      = optional(string, null)
    labels                         = optional(list(string), ["forecast-stack-prod"])
    registration_token_secret_name = optional(string, "runner-registration-token")
    azure_pipelines_pool           = optional(string, "forecast-stack-prod")
  })
  description = "The prod runner (modules/ci_runner): its VNet (must not overlap prod's), platform, labels; image_tag null until the image is built (the first run creates registry and vault only)."
  default     = {}
  nullable    = false
}

variable "tags" {
  type        = map(string)
  description = "Organisation tags (owner, cost_centre, data_classification) on every bootstrap resource."
  nullable    = false
}
