# The bootstrap stage: everything that must exist before the first pipelined apply, created once by
# an owner (scripts/bootstrap_state.sh runs this root). Re-running it changes nothing.
#
#   resource groups      the bootstrap's own (state, identities, runner) and each stack's, so the
#                        deploying identity's roles can be scoped to a stack group before Terraform
#                        manages anything in it (envs/<env>/main.tf imports the group)
#   state storage        Entra-only, versioned, soft delete, one container per environment
#   deploying identities one user-assigned managed identity per environment, trusted only by the
#                        pipeline's approved apply environment (GitHub <env>, Azure DevOps <env>)
#   plan identities      one per environment, read-only on the stack, trusted by <env>-plan
#   role assignments     local.role_assignments below: each with its scope and reason
#   the runners          modules/ci_runner, one per environment, each in its own VNet: GitHub-hosted
#                        runners with Azure private networking or a Managed DevOps Pool, holding no
#                        registration secret and no identity (prod's private endpoints are reached
#                        over the peering infra/ creates; dev's VNet is peered with nothing)
#
# Why Terraform and not an az script: a plan shows what a run would change, a second apply is
# provably a no-op, and `make validate` checks this root like every other (schema, checkov).

provider "azurerm" {
  # Control plane only for storage: the provider otherwise reads each account's queue and static
  # website properties over the data plane, which a private account (or an identity without data
  # roles) answers with 403 on the first plan.
  # https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/guides/features-block#data_plane_available
  # https://github.com/hashicorp/terraform-provider-azurerm/pull/27818
  features {
    storage {
      data_plane_available = false
    }
  }
  storage_use_azuread = true
  # The owner registers the providers the stacks need here, once; the stacks' own roots register
  # none (their identity has no subscription-scope rights).
  # https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs#resource-provider-registrations
  resource_provider_registrations = "core"
  resource_providers_to_register = [
    "GitHub.Network",
    "Microsoft.ContainerRegistry",
    "Microsoft.DataFactory",
    "Microsoft.DevCenter",
    "Microsoft.DevOpsInfrastructure",
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.MachineLearningServices",
    "Microsoft.ManagedIdentity",
    "Microsoft.Network",
    "Microsoft.OperationalInsights",
    # prod's Power BI VNet data gateway subnet is delegated to Microsoft.PowerPlatform/vnetaccesslinks;
    # a delegation to an unregistered namespace fails (issue 22 item 12).
    # https://learn.microsoft.com/data-integration/vnet/create-data-gateways#step-1-register-microsoftpowerplatform-as-a-resource-provider
    "Microsoft.PowerPlatform",
    "Microsoft.Sql",
    "Microsoft.Storage",
  ]
}

data "azurerm_client_config" "current" {}

locals {
  tags = merge(var.tags, { managed_by = "terraform", workload = var.workload, purpose = "bootstrap" })

  # local.environments and local.names (every name the bootstrap gives, each checked against
  # Azure's rule for its kind): naming.tf.

  # Federated credentials (local.federated_credentials): subjects.tf.
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
  # This state is the group's only owner, its tags included: envs/<env> reads the group as a data
  # source (infra/main.tf) and imports nothing, so no ignore_changes here, or no state would manage
  # the tags (tests/infra/test_release_blockers.py::test_the_bootstrap_manages_the_groups_it_owns).
}

# The state lives in this account: losing it would orphan both stacks. The lock sits on the account,
# not on the resource group: a group lock is inherited by every child, including the runner VNet's
# half of prod's peering, which infra/ creates and must be able to delete (prod destroy would fail
# with ScopeLocked).
# https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources#lock-inheritance
#
# The lock is inherited by the state containers and refuses the DELETE of the role assignments on
# them (ScopeLocked): owner_bootstrap_state and owner_environment_state (main.state.tf) and the
# deploy and plan identities' ${env}-state-blob / ${env}-plan-state-blob (main.rbac.tf).
# https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources#considerations-before-applying-your-locks,
# hashicorp/terraform-provider-azurerm#11770. azurerm replaces an assignment (delete, then create)
# when its principal changes (role_assignment_resource.go: principal_id ForceNew): the owner's ones
# the first time another owner runs this root (data.azurerm_client_config.current), the identities'
# ones when an identity is re-created. So the lock is released the way infra/main.locks.tf releases
# the stack's locks: it depends on every assignment of this root (created after them, destroyed
# before them), and it is replaced whenever the set of assignment ids at or under the account
# changes (terraform_data.locked_role_assignments, replace_triggered_by): unlock, delete, create,
# lock. tests/infra/test_lock_release.py checks the rule in every root that holds a lock.
# No resource here may set create_before_destroy: it would re-create the lock before the deposed
# assignment's DELETE (tests/infra/test_lock_release.py::test_no_create_before_destroy_under_a_lock).
locals {
  # Every role assignment this root manages, keyed uniquely across the three resources.
  managed_role_assignments = merge(
    { for key, assignment in azurerm_role_assignment.this : key => assignment },
    { "owner-bootstrap-state" = azurerm_role_assignment.owner_bootstrap_state },
    { for key, assignment in azurerm_role_assignment.owner_environment_state : "owner-${key}-state" => assignment },
  )
}

# The ids of the role assignments at or under the state account (ARM ids compared without case):
# an assignment added, replaced (new id) or removed changes this input, and the lock is replaced.
resource "terraform_data" "locked_role_assignments" {
  input = {
    for key, assignment in local.managed_role_assignments : key => assignment.id
    if lower(assignment.scope) == lower(azurerm_storage_account.state.id) || startswith(lower(assignment.scope), "${lower(azurerm_storage_account.state.id)}/")
  }
}

resource "azurerm_management_lock" "state" {
  name       = "tfstate-cannot-delete"
  scope      = azurerm_storage_account.state.id
  lock_level = "CanNotDelete"
  notes      = "Terraform state of forecast-stack; remove only to retire the product."

  depends_on = [
    azurerm_role_assignment.this,
    azurerm_role_assignment.owner_bootstrap_state,
    azurerm_role_assignment.owner_environment_state,
  ]

  lifecycle {
    replace_triggered_by = [terraform_data.locked_role_assignments]
  }
}

resource "azurerm_user_assigned_identity" "deploy" {
  for_each = local.environments

  name                = local.names.identity[each.key]
  location            = var.location
  resource_group_name = azurerm_resource_group.bootstrap.name
  tags                = merge(local.tags, { environment = each.key })
}

# Read-only identity of the plan jobs (roles: envs/bootstrap/main.rbac.tf, local.plan_roles).
resource "azurerm_user_assigned_identity" "plan" {
  for_each = local.environments

  name                = local.names.plan_identity[each.key]
  location            = var.location
  resource_group_name = azurerm_resource_group.bootstrap.name
  tags                = merge(local.tags, { environment = each.key })
}

# Written one at a time (scripts/bootstrap_state.sh applies with -parallelism=1): Entra ID rejects
# concurrent federated credential writes on one managed identity.
# https://github.com/hashicorp/terraform-provider-azurerm/issues/19968
# https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations
resource "azurerm_federated_identity_credential" "this" {
  for_each = local.federated_credentials

  name                      = each.key
  user_assigned_identity_id = each.value.identity == "plan" ? azurerm_user_assigned_identity.plan[each.value.env].id : azurerm_user_assigned_identity.deploy[each.value.env].id
  audience                  = ["api://AzureADTokenExchange"]
  issuer                    = each.value.issuer
  subject                   = each.value.subject
}
