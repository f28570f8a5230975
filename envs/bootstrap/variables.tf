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
  description = "Suffix for globally unique names, e.g. p01. No bootstrap resource uses it since the runners hold no registry or vault of ours; kept so existing terraform.tfvars files still load."
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
    owner           = string
    owner_id        = optional(string)
    repository      = string
    repository_id   = optional(string)
    organization_id = optional(string)
    subject_forms   = optional(set(string), ["immutable"])
  })
  description = <<DESCRIPTION
The GitHub repository whose release workflow deploys (federated credentials for its environments
dev-plan, dev, prod-plan, prod); null when only Azure DevOps is used.

- `owner` - (Required) The organisation that owns the repository (runner groups and Azure private
  networking exist only for organisations).
- `owner_id`, `repository_id` - (Required for the immutable subject form) The numeric ids GitHub puts
  in immutable subjects: `gh api repos/<owner>/<repo> --jq '.owner.id, .id'`.
- `repository` - (Required) The repository's name.
- `organization_id` - (Required for GitHub's private networking) The organisation's databaseId, the
  networkSettings `businessId`: `gh api graphql -f query='{organization(login:"<owner>"){databaseId}}'`.
- `subject_forms` - (Optional) Which `sub` forms the federated credentials trust: `immutable`
  (`repo:<owner>@<owner_id>/<repo>@<repository_id>:...`, the default for repositories created or
  renamed from 2026-07-15) and/or `legacy` (`repo:<owner>/<repo>:...`). Take the repository's own:
  `gh api repos/<owner>/<repo>/actions/oidc/customization/sub` (stackctl doctor checks it); both
  during a migration.
  https://learn.microsoft.com/entra/workload-id/workload-identities-github-immutable-subjects
DESCRIPTION
  default     = null

  validation {
    condition     = var.github == null || (length(try(var.github.subject_forms, [])) > 0 && length(setsubtract(try(var.github.subject_forms, []), ["immutable", "legacy"])) == 0)
    error_message = "github.subject_forms must name one or both of immutable and legacy (gh api repos/<owner>/<repo>/actions/oidc/customization/sub tells which the repository sends)."
  }
  validation {
    condition     = var.github == null || !contains(try(var.github.subject_forms, []), "immutable") || (can(regex("^[0-9]+$", try(var.github.owner_id, ""))) && can(regex("^[0-9]+$", try(var.github.repository_id, ""))))
    error_message = "The immutable subject form needs github.owner_id and github.repository_id, the numeric ids: gh api repos/<owner>/<repo> --jq '.owner.id, .id'."
  }
  validation {
    condition     = var.github == null || can(regex("^[A-Za-z0-9][A-Za-z0-9-]*$", try(var.github.owner, ""))) && can(regex("^[A-Za-z0-9._-]+$", try(var.github.repository, "")))
    error_message = "github.owner and github.repository are the login and the name, without slashes, @ or blanks (the ids go into owner_id and repository_id)."
  }
}

variable "azure_devops" {
  type = object({
    organization = string
    project      = string
    # The Azure Repos repository the pipeline builds (default: the project's own, same name) and the
    # release managers' group descriptor (`az devops security group list --query
    # "graphGroups[?displayName=='Release Managers'].descriptor"`), the only identity doctor accepts
    # with "Create branch" under release/ (README "Azure: first deploy", step 6).
    repository       = optional(string)
    release_managers = optional(string)
    service_connections = map(object({
      issuer  = string
      subject = string
    }))
  })
  description = <<DESCRIPTION
Azure DevOps organisation, project, and per identity the workload-identity service connection's
issuer and subject, copied from the connection after it was created (manual, workload identity
federation): keys dev and prod (the deploying identity, apply stage) and dev-plan and prod-plan (the
read-only plan identity, plan stage); null when only GitHub is used. New connections use the Entra
issuer `https://login.microsoftonline.com/<tenant id>/v2.0` and the subject
`/eid1/c/pub/t/<tenant>/a/<app>/sc/<organization id>/<service connection id>`; connections made
before the switch still show `https://vstoken.dev.azure.com/<organization id>` and
`sc://<organization>/<project>/<connection>` until converted.
https://learn.microsoft.com/azure/devops/pipelines/release/convert-service-connections
DESCRIPTION
  default     = null

  validation {
    condition     = var.azure_devops == null || alltrue([for key in keys(try(var.azure_devops.service_connections, {})) : contains(["dev", "prod", "dev-plan", "prod-plan"], key)])
    error_message = "azure_devops.service_connections keys must be among dev, prod (apply) and dev-plan, prod-plan (plan)."
  }
  validation {
    condition = var.azure_devops == null || alltrue([
      for connection in values(try(var.azure_devops.service_connections, {})) :
      (can(regex("^https://login\\.microsoftonline\\.com/[0-9a-f-]{36}/v2\\.0$", connection.issuer)) && can(regex("^/eid1/c/pub/t/[A-Za-z0-9_-]+/a/[A-Za-z0-9_-]+/sc/[0-9a-f-]{36}/[0-9a-f-]{36}$", connection.subject)))
      || (can(regex("^https://vstoken\\.dev\\.azure\\.com/[0-9a-f-]{36}$", connection.issuer)) && can(regex("^sc://[^/]+/[^/]+/[^/]+$", connection.subject)))
    ])
    error_message = "Each azure_devops.service_connections entry needs the issuer and subject the connection shows (Azure DevOps, the connection's Workload Identity federation details): the Entra issuer https://login.microsoftonline.com/<tenant>/v2.0 with subject /eid1/c/pub/t/.../a/.../sc/<org id>/<connection id>, or, for a connection not yet converted, https://vstoken.dev.azure.com/<org id> with sc://<org>/<project>/<connection>."
  }
}

variable "ci_runner" {
  type = object({
    enabled  = optional(bool, true)
    platform = optional(string, "github")
    # GitHub's private networking runs in a subset of regions (modules/ci_runner checks it); null
    # puts the runner VNets in var.location.
    location = optional(string, null)
    # Each environment's own runner network (dev's VNet is peered with nothing; prod's only with
    # prod's and must not overlap it) and the GitHub runner group and label its jobs ask for.
    environments = optional(map(object({
      address_space = list(string)
      subnet_prefix = string
      runner_group  = string
      labels        = list(string)
      })), {
      dev  = { address_space = ["10.42.0.0/24"], subnet_prefix = "10.42.0.0/27", runner_group = "forecast-stack-dev", labels = ["forecast-stack-dev"] }
      prod = { address_space = ["10.41.0.0/24"], subnet_prefix = "10.41.0.0/27", runner_group = "forecast-stack-prod", labels = ["forecast-stack-prod"] }
    })
  })
  description = "The runners (modules/ci_runner), one per environment (dev, prod), each in its own VNet with its own egress IP: GitHub-hosted runners with Azure private networking (platform github) or a Managed DevOps Pool (azure-pipelines). No registration token, image or identity."
  default     = {}
  nullable    = false

  validation {
    condition     = contains(["github", "azure-pipelines"], var.ci_runner.platform)
    error_message = "ci_runner.platform must be github or azure-pipelines."
  }
  # What each platform's runner needs, checked before anything is created.
  validation {
    condition     = !var.ci_runner.enabled || var.ci_runner.platform != "github" || can(regex("^[0-9]+$", var.github.organization_id))
    error_message = "GitHub-hosted runners with Azure private networking need github.organization_id, the organisation's databaseId: gh api graphql -f query='{organization(login:\"<org>\"){databaseId}}'."
  }
  validation {
    condition     = !var.ci_runner.enabled || var.ci_runner.platform != "azure-pipelines" || (var.azure_devops != null && var.devops_infrastructure_principal_id != null)
    error_message = "Managed DevOps Pools need azure_devops (organization, project) and devops_infrastructure_principal_id: az ad sp list --display-name DevOpsInfrastructure --query [0].id -o tsv."
  }
  validation {
    condition     = !var.ci_runner.enabled || toset(keys(var.ci_runner.environments)) == toset(["dev", "prod"])
    error_message = "ci_runner.environments needs exactly a runner for dev and one for prod (one network for both would put dev's jobs where prod's private endpoints are)."
  }
  validation {
    condition = !var.ci_runner.enabled || length(setintersection(
      toset(try(var.ci_runner.environments["dev"].labels, [])), toset(try(var.ci_runner.environments["prod"].labels, []))
    )) == 0 && try(var.ci_runner.environments["dev"].runner_group, "") != try(var.ci_runner.environments["prod"].runner_group, "")
    error_message = "ci_runner.environments: dev and prod need different runner groups and labels, so that no dev job runs on prod's runner."
  }
}

variable "state_allowed_ip_ranges" {
  type        = list(string)
  description = "Public IPs or CIDRs of the owners who run the bootstrap and `make plan` from a laptop: the state account denies by default and admits the runner subnets by VNet rule and these by IP."
  default     = []
  nullable    = false
}

variable "assignable_role_ids" {
  type        = map(string)
  description = "Role name => built-in role definition id (GUID): the only roles the deploying identities may assign or remove in their stack's group (the RBAC Administrator condition's allow-list). The default is every role infra/ assigns (tests/infra/test_runner_isolation.py checks it covers them). Never add Owner, User Access Administrator, RBAC Administrator or Contributor."
  nullable    = false
  default = {
    # https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
    "Storage Blob Data Contributor" = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
    "Storage Blob Data Reader"      = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
    "Key Vault Secrets Officer"     = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
    "Key Vault Secrets User"        = "4633458b-17de-408a-b874-0445c86b69e6"
    "AcrPull"                       = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
    "AcrPush"                       = "8311e382-0749-4cb8-b61a-304f252e45ec" # the image-build cluster (infra/main.rbac.tf)
    "Monitoring Metrics Publisher"  = "3913510d-42f4-4e42-8a64-420c390055eb"
    "AzureML Data Scientist"        = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
    # No Reader: nothing in infra/ assigns it since the Power BI group's Reader went (it is a group,
    # which this condition refuses anyway; modules/powerbi_sources/main.tf).
    # infra/main.rbac.tf gives it to the workspace on the lake, SQL and workspace storage (managed
    # network private endpoints); the id as Microsoft Learn's managed-network pages give it
    # (https://learn.microsoft.com/azure/ai-foundry/how-to/managed-virtual-network, "role ID").
    "Azure AI Enterprise Network Connection Approver" = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea"
  }

  validation {
    condition = length(setintersection(toset(values(var.assignable_role_ids)), toset([
      "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", # Owner
      "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", # User Access Administrator
      "f58310d9-a9f6-439a-9e8d-f62e7b41a168", # Role Based Access Control Administrator
      "b24988ac-6180-42a0-ab88-20f7382dd24c", # Contributor
    ]))) == 0 && alltrue([for id in values(var.assignable_role_ids) : can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", id))])
    error_message = "assignable_role_ids holds role definition GUIDs, never Owner, User Access Administrator, RBAC Administrator or Contributor: with one of them the deploying identity could grant itself or anyone the whole group."
  }
}

variable "devops_infrastructure_principal_id" {
  type        = string
  description = "Azure DevOps only: object id of the DevOpsInfrastructure service principal in this tenant (`az ad sp list --display-name DevOpsInfrastructure --query [0].id -o tsv`), which needs Reader and Network Contributor on each runner VNet to inject the pool's agents."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Organisation tags (owner, cost_centre, data_classification) on every bootstrap resource."
  nullable    = false
}
