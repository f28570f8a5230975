variable "name" {
  type        = string
  description = "Name of the Container Apps job (2-32 lowercase letters, digits, hyphens); the environment is cae-<name>, its logs log-<name>."
  nullable    = false

  # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftapp
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be 2-32 lowercase letters, digits and hyphens, starting with a letter, ending with a letter or digit, without consecutive hyphens (Container Apps naming rule)."
  }
}

variable "placeholder_name" {
  type        = string
  description = "Azure DevOps only (platform = azure-pipelines): name of the job that registers the pool's offline placeholder agent, in the same resource group as the runner job, so distinct from it and from every other runner's placeholder (the bootstrap names it per environment: caj-<workload>-placeholder-<env>). Null for GitHub."
  default     = null

  validation {
    condition     = var.platform != "azure-pipelines" || var.placeholder_name != null
    error_message = "platform = azure-pipelines needs placeholder_name (the placeholder agent's job; one per runner, e.g. caj-<workload>-placeholder-<env>)."
  }
  # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftapp
  validation {
    condition     = var.placeholder_name == null || (can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", coalesce(var.placeholder_name, "x"))) && !strcontains(coalesce(var.placeholder_name, "x"), "--"))
    error_message = "placeholder_name must be 2-32 lowercase letters, digits and hyphens, starting with a letter, ending with a letter or digit, without consecutive hyphens (Container Apps naming rule)."
  }
  validation {
    condition     = var.placeholder_name != var.name
    error_message = "placeholder_name must differ from name: both jobs live in one resource group."
  }
}

variable "location" {
  type        = string
  description = "Azure region of every resource in this module, e.g. westeurope."
  nullable    = false
}

variable "resource_group_name" {
  type        = string
  description = "Resource group that holds this module's resources."
  nullable    = false
}

variable "infrastructure_subnet_id" {
  type        = string
  description = "Subnet of the runner VNet delegated to Microsoft.App/environments (at least /27); the stack's private DNS zones are linked to its VNet by infra/."
  nullable    = false
}

variable "identity" {
  type = object({
    resource_id = string
    client_id   = string
  })
  description = <<DESCRIPTION
The job's own user-assigned managed identity: it pulls the image (AcrPull) and reads the
registration token (Key Vault Secrets User), and must hold nothing else, because every step of
every job on the runner can get its token from the identity endpoint
(https://learn.microsoft.com/azure/container-apps/managed-identity). Never the deploying
identity: that one is reached only through the approved job's OIDC token.

- `resource_id` - (Required) ARM id of the identity.
- `client_id` - (Required) Its application (client) id, which the job asks tokens for.
DESCRIPTION
  nullable    = false
}

variable "image" {
  type = object({
    registry_login_server = string
    repository            = optional(string, "ci-runner")
    tag                   = string
  })
  description = <<DESCRIPTION
The runner image built from modules/ci_runner/image (az acr build), pulled with the job's
identity.

- `registry_login_server` - (Required) Login server of the registry, e.g. `crexample.azurecr.io`.
- `repository` - (Optional) Repository of the image in it; default `ci-runner`.
- `tag` - (Required) Tag of the image to run.
DESCRIPTION
  nullable    = false
}

variable "registration_key_vault_reference" {
  type        = string
  description = "Versionless Key Vault secret id holding the token the runner registers with and KEDA polls the queue with. GitHub, github.scope = repo: fine-grained PAT on the one repository with Administration read and write (registration tokens), Actions read (KEDA reads the queued workflow jobs) and Metadata read; github.scope = org: fine-grained PAT owned by the organisation with the organisation permission Self-hosted runners read and write (organisation registration tokens) and, on the one repository, Actions read and Metadata read (https://keda.sh/docs/latest/scalers/github-runner/, https://learn.microsoft.com/azure/container-apps/tutorial-ci-cd-runners-jobs). Azure DevOps: PAT with Agent Pools read & manage. Set by an owner with az keyvault secret set; never in Terraform."
  nullable    = false
}

variable "platform" {
  type        = string
  description = "Which CI system the runners serve: github (GitHub Actions runners) or azure-pipelines (Azure Pipelines agents)."
  default     = "github"
  nullable    = false

  validation {
    condition     = contains(["github", "azure-pipelines"], var.platform)
    error_message = "platform must be github or azure-pipelines."
  }
}

variable "github" {
  type = object({
    owner        = string
    repository   = string
    scope        = optional(string, "repo")
    runner_group = optional(string)
  })
  description = <<DESCRIPTION
GitHub repository the runners serve (platform = github); null otherwise.

- `owner` - (Required) The user or organisation that owns the repository.
- `repository` - (Required) The repository's name; KEDA counts only its queued jobs.
- `scope` - (Optional) Where the runners register: `repo` (default; the repository's own runners,
  registered with a token scoped to the repository) or `org` (organisation runners in
  `runner_group`, registered with an organisation-scoped token). Prod's runners are `org`: a runner
  group admits only the repositories (and, on Enterprise, workflows) it names, and a job that asks
  for `runs-on: { group: ..., labels: [...] }` never lands on a repository runner, which is all a
  repository-scoped token (dev's) can register.
- `runner_group` - (Optional) The organisation runner group (scope `org` only), created beforehand
  and restricted to this repository (README, "Release pipeline").
DESCRIPTION
  default     = null

  validation {
    condition     = var.platform != "github" || var.github != null
    error_message = "platform = github needs github = { owner, repository }."
  }
  # https://keda.sh/docs/latest/scalers/github-runner/ (runnerScope: org, ent or repo; ent is not used)
  validation {
    condition     = var.github == null || contains(["repo", "org"], try(var.github.scope, ""))
    error_message = "github.scope must be repo (repository runners) or org (organisation runners in github.runner_group)."
  }
  # Runner groups exist only for organisation (and enterprise) runners.
  # https://docs.github.com/actions/hosting-your-own-runners/managing-self-hosted-runners/managing-access-to-self-hosted-runners-using-groups
  validation {
    condition     = var.github == null || (try(var.github.scope, "") == "org") == (try(var.github.runner_group, null) != null)
    error_message = "github.runner_group is needed exactly when github.scope = org: organisation runners join a runner group, repository runners cannot."
  }
}

variable "azure_pipelines" {
  type = object({
    organization_url = string
    pool_name        = string
  })
  description = <<DESCRIPTION
The Azure DevOps agent pool the runners join (platform = azure-pipelines); null otherwise.

- `organization_url` - (Required) The organisation's URL, `https://dev.azure.com/ORG`.
- `pool_name` - (Required) The self-hosted agent pool.
DESCRIPTION
  default     = null

  validation {
    condition     = var.platform != "azure-pipelines" || var.azure_pipelines != null
    error_message = "platform = azure-pipelines needs azure_pipelines = { organization_url, pool_name }."
  }
}

variable "labels" {
  type        = list(string)
  description = "Runner labels, the only ones the runner has: it registers with --no-default-labels, so a job asking for plain self-hosted (or Linux, X64) never lands on it; the prod jobs' runs-on names exactly these."
  default     = ["forecast-stack-prod"]
  nullable    = false
}

variable "max_executions" {
  type        = number
  description = "At most this many runner containers at once."
  default     = 4
  nullable    = false
}

variable "job_timeout_in_seconds" {
  type        = number
  description = "Longest one pipeline job may run in a runner container (apply plus deploy plus model validation)."
  default     = 10800
  nullable    = false
}

variable "cpu" {
  type        = number
  description = "vCPUs per runner container (Consumption profile: up to 4)."
  default     = 2
  nullable    = false
}

variable "memory" {
  type        = string
  description = "Memory per runner container; Consumption pairs 2 vCPU with 4Gi."
  default     = "4Gi"
  nullable    = false
}

variable "zone_redundant" {
  type        = bool
  description = "Spread the Container Apps environment over availability zones."
  default     = false
  nullable    = false
}

variable "log_retention_in_days" {
  type        = number
  description = "Retention of the runner environment's logs."
  default     = 30
  nullable    = false
}

# --- AVM interface variables ---

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource this module creates: environment, owner, cost_centre and data_classification are required."
  nullable    = false
}
