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
  description = "Suffix making the globally unique names (registry, vaults) unique, e.g. p01; with workload it must fit the longest of them, dev's runner vault kv-<workload>-cid-<name_suffix> (24 characters: naming.tf checks every name at plan)."
  nullable    = false

  # Lowercase letters and digits: the registry name (cr<workload>ci<name_suffix>) allows no hyphen.
  # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftcontainerregistry
  validation {
    condition     = can(regex("^[a-z0-9]{1,16}$", var.name_suffix))
    error_message = "name_suffix must be 1-16 lowercase letters and digits (it goes into the registry's and the vaults' names)."
  }
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
    owner             = string
    repository        = string
    prod_runner_group = optional(string, "forecast-stack-prod")
  })
  description = <<DESCRIPTION
The GitHub repository whose release workflow deploys (federated credentials for its environments
dev-plan, dev, prod-plan, prod); null when only Azure DevOps is used.

- `owner` - (Required) The organisation that owns the repository (prod's runners are organisation
  runners: runner groups exist only in organisations).
- `repository` - (Required) The repository's name.
- `prod_runner_group` - (Optional) The organisation runner group prod's runners register into
  (default `forecast-stack-prod`), created by an organisation owner and restricted to this
  repository before the bootstrap's second run (README, "Release pipeline"); the workflow's prod
  jobs ask for it (repository variable PROD_RUNNER_GROUP). Dev's runners stay repository runners,
  so dev's registration token cannot register a runner in it.
DESCRIPTION
  default     = null

  validation {
    condition     = var.github == null || can(regex("^\\S(.*\\S)?$", try(var.github.prod_runner_group, "")))
    error_message = "github.prod_runner_group must name the organisation runner group prod's runners join (no leading or trailing blanks)."
  }
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
    enabled   = optional(bool, true)
    platform  = optional(string, "github")
    image_tag = optional(string, null)
    # Each environment's own runner: VNet (dev's is peered with nothing; prod's only with prod's
    # and must not overlap it), label (GitHub runs-on) and Azure DevOps agent pool. The labels and
    # pools must differ: a dev job must never match prod's runner.
    environments = optional(map(object({
      address_space        = list(string)
      subnet_prefix        = string
      labels               = list(string)
      azure_pipelines_pool = string
      })), {
      dev  = { address_space = ["10.42.0.0/24"], subnet_prefix = "10.42.0.0/27", labels = ["forecast-stack-dev"], azure_pipelines_pool = "forecast-stack-dev" }
      prod = { address_space = ["10.41.0.0/24"], subnet_prefix = "10.41.0.0/27", labels = ["forecast-stack-prod"], azure_pipelines_pool = "forecast-stack-prod" }
    })
    registration_token_secret_name = optional(string, "runner-registration-token")
  })
  description = "The runners (modules/ci_runner), one per environment (dev, prod), each with its own VNet, egress IP, identity, vault, label and pool; image_tag null until the image is built (the first run creates the networks, registry and vaults only)."
  default     = {}
  nullable    = false

  validation {
    condition     = !var.ci_runner.enabled || toset(keys(var.ci_runner.environments)) == toset(["dev", "prod"])
    error_message = "ci_runner.environments needs exactly a runner for dev and one for prod (one runner for both would run dev's jobs next to prod's registration token)."
  }
  validation {
    condition = !var.ci_runner.enabled || length(setintersection(
      toset(try(var.ci_runner.environments["dev"].labels, [])), toset(try(var.ci_runner.environments["prod"].labels, []))
    )) == 0 && try(var.ci_runner.environments["dev"].azure_pipelines_pool, "") != try(var.ci_runner.environments["prod"].azure_pipelines_pool, "")
    error_message = "ci_runner.environments: dev and prod need different labels and agent pools, so that no dev job runs on prod's runner."
  }
}

variable "tags" {
  type        = map(string)
  description = "Organisation tags (owner, cost_centre, data_classification) on every bootstrap resource."
  nullable    = false
}
