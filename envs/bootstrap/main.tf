# The bootstrap stage: everything that must exist before the first pipelined apply, created once by
# an owner (scripts/bootstrap_state.sh runs this root). Re-running it changes nothing.
#
#   resource groups      the bootstrap's own (state, identities, runner) and each stack's, so the
#                        deploying identity's roles can be scoped to a stack group before Terraform
#                        manages anything in it (envs/<env>/main.tf imports the group)
#   state storage        Entra-only, versioned, soft delete, one container per environment
#   deploying identities one user-assigned managed identity per environment, with federated
#                        credentials for the pipeline's environments (GitHub and/or Azure DevOps)
#   role assignments     local.role_assignments below: each with its scope and reason
#   the runner           modules/ci_runner in its own VNet (prod's private endpoints are reached
#                        over the peering infra/ creates)
#
# Why Terraform and not an az script: a plan shows what a run would change, a second apply is
# provably a no-op, and `make validate` checks this root like every other (schema, checkov).

provider "azurerm" {
  features {}
  storage_use_azuread = true
  # The owner registers the providers the stacks need here, once; the stacks' own roots register
  # none (their identity has no subscription-scope rights).
  # https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs#resource-provider-registrations
  resource_provider_registrations = "core"
  resource_providers_to_register = [
    "Microsoft.App",
    "Microsoft.ContainerRegistry",
    "Microsoft.DataFactory",
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.MachineLearningServices",
    "Microsoft.ManagedIdentity",
    "Microsoft.Network",
    "Microsoft.OperationalInsights",
    "Microsoft.Sql",
    "Microsoft.Storage",
  ]
}

data "azurerm_client_config" "current" {}

locals {
  environments = toset(["dev", "prod"])
  tags         = merge(var.tags, { managed_by = "terraform", workload = var.workload, purpose = "bootstrap" })

  names = {
    bootstrap_resource_group = "rg-${var.workload}-bootstrap-${var.location_short}"
    # Must equal infra/naming.tf's resource_group: the stack's group, imported by envs/<env>/main.tf.
    stack_resource_group = { for env in local.environments : env => "rg-${var.workload}-${env}-${var.location_short}" }
    identity             = { for env in local.environments : env => "id-${var.workload}-deploy-${env}" }
    state_container      = { for env in setunion(local.environments, ["bootstrap"]) : env => "tfstate-${env}" }
    runner_vnet          = "vnet-${var.workload}-ci-${var.location_short}"
    runner_registry      = "cr${var.workload}ci${var.name_suffix}"
    runner_key_vault     = "kv-${var.workload}-ci-${var.name_suffix}"
    runner_job           = "caj-${var.workload}-runner-prod"
  }

  # Federated credentials: GitHub environments <env>-plan (plan and audit) and <env> (apply; prod's
  # has the required reviewers), and one Azure DevOps service connection per environment.
  # https://learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust-user-assigned-managed-identity
  github_subjects = var.github == null ? {} : merge([
    for env in local.environments : {
      for gh_env in ["${env}-plan", env] : "${env}-github-${gh_env}" => {
        env     = env
        issuer  = "https://token.actions.githubusercontent.com"
        subject = "repo:${var.github.owner}/${var.github.repository}:environment:${gh_env}"
      }
    }
  ]...)
  # https://learn.microsoft.com/azure/devops/pipelines/release/configure-workload-identity
  azure_devops_subjects = var.azure_devops == null ? {} : {
    for env, connection in var.azure_devops.service_connections : "${env}-azure-devops" => {
      env     = env
      issuer  = "https://vstoken.dev.azure.com/${var.azure_devops.organization_id}"
      subject = "sc://${var.azure_devops.organization}/${var.azure_devops.project}/${connection}"
    }
  }
}

resource "azurerm_resource_group" "bootstrap" {
  name     = local.names.bootstrap_resource_group
  location = var.location
  tags     = local.tags
}

resource "azurerm_resource_group" "stack" {
  for_each = local.environments

  name     = local.names.stack_resource_group[each.key]
  location = var.location
  tags     = merge(var.tags, { environment = each.key, managed_by = "terraform", workload = var.workload })

  # envs/<env> imports this group and manages its tags from then on.
  lifecycle {
    ignore_changes = [tags]
  }
}

# The state lives here: losing it would orphan both stacks.
resource "azurerm_management_lock" "bootstrap" {
  name       = "bootstrap-cannot-delete"
  scope      = azurerm_resource_group.bootstrap.id
  lock_level = "CanNotDelete"
  notes      = "Terraform state and the deploying identities of forecast-stack; remove only to retire the product."
}

resource "azurerm_user_assigned_identity" "deploy" {
  for_each = local.environments

  name                = local.names.identity[each.key]
  location            = var.location
  resource_group_name = azurerm_resource_group.bootstrap.name
  tags                = merge(local.tags, { environment = each.key })
}

resource "azurerm_federated_identity_credential" "this" {
  for_each = merge(local.github_subjects, local.azure_devops_subjects)

  name                      = each.key
  resource_group_name       = azurerm_resource_group.bootstrap.name
  user_assigned_identity_id = azurerm_user_assigned_identity.deploy[each.value.env].id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = each.value.issuer
  subject                   = each.value.subject
}
