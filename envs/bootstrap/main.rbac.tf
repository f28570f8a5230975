# Every role the deploying, plan and runner identities hold, with its scope and the reason; nothing
# at subscription scope. A stack's resource group is a scope here only because this root creates it
# first.

# Contributor and RBAC Administrator carry no Microsoft.Authorization/locks/* action, so prod's
# first apply (resource_locks_enabled = true: the CanNotDelete locks of infra/'s modules) would be
# refused with AuthorizationFailed. This role holds exactly the lock actions, assignable only on
# the stack's own group.
# https://learn.microsoft.com/rest/api/resources/management-locks/create-or-update-at-resource-level
# https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources#who-can-create-or-delete-locks
# https://learn.microsoft.com/azure/role-based-access-control/custom-roles
resource "azurerm_role_definition" "lock_operator" {
  for_each = local.environments

  # A custom role's name must be unique in the tenant (RoleDefinitionWithSameNameExists): a second
  # bootstrap (another subscription or workload in the same tenant) would fail on a fixed name
  # (issue 22 item 14). https://learn.microsoft.com/azure/role-based-access-control/custom-roles#custom-role-properties
  name        = "forecast-stack lock operator (${var.workload} ${each.key}, subscription ${data.azurerm_client_config.current.subscription_id})"
  scope       = azurerm_resource_group.stack[each.key].id
  description = "Create, read and delete the management locks of the ${each.key} forecast stack's resources (nothing else)."

  permissions {
    actions = [
      "Microsoft.Authorization/locks/read",
      "Microsoft.Authorization/locks/write",
      "Microsoft.Authorization/locks/delete",
    ]
    not_actions = []
  }

  assignable_scopes = [azurerm_resource_group.stack[each.key].id]
}

locals {
  # Owner, User Access Administrator, Role Based Access Control Administrator: the roles that
  # could grant more rights. The deploying identity may assign any role but these.
  # https://learn.microsoft.com/azure/role-based-access-control/delegate-role-assignments-examples#example-constrain-roles
  privileged_role_ids = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635, 18d7d88d-d35e-4fb5-a5c3-7773c20a72d9, f58310d9-a9f6-439a-9e8d-f62e7b41a168"
  no_privileged_roles = <<-CONDITION
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
     )
     OR
     (
      @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {${local.privileged_role_ids}}
     )
    )
    AND
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})
     )
     OR
     (
      @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {${local.privileged_role_ids}}
     )
    )
  CONDITION

  # principal: "deploy" (the approved apply job), "plan" (the plan job) or "runner" (the runner job).
  per_environment_roles = merge([
    for env in local.environments : {
      "${env}-stack-contributor" = {
        principal = "deploy"
        env       = env
        scope     = azurerm_resource_group.stack[env].id
        role      = "Contributor"
        reason    = "create, change and delete every resource of the ${env} stack inside its resource group"
        condition = null
      }
      "${env}-stack-locks" = {
        principal       = "deploy"
        env             = env
        scope           = azurerm_resource_group.stack[env].id
        role_definition = azurerm_role_definition.lock_operator[env].role_definition_resource_id
        role            = "forecast-stack lock operator (${env})"
        reason          = "infra/'s modules put CanNotDelete locks on the ${env} stack's resources (resource_locks_enabled) and remove them on destroy; Contributor cannot"
        condition       = null
      }
      "${env}-stack-rbac-admin" = {
        principal = "deploy"
        env       = env
        scope     = azurerm_resource_group.stack[env].id
        role      = "Role Based Access Control Administrator"
        reason    = "infra/main.rbac.tf and the modules grant the stack's own identities data roles (lake, vault, workspace); AML grants its workspace identity roles on its dependencies; never a privileged role (condition)"
        condition = local.no_privileged_roles
      }
      "${env}-state-blob" = {
        principal = "deploy"
        env       = env
        scope     = azurerm_storage_container.state[env].id
        role      = "Storage Blob Data Contributor"
        reason    = "read and write the ${env} state and take its blob lease (the state lock); only its own container"
        condition = null
      }
      # The plan identity: what `terraform plan` reads, and nothing it could change the stack with.
      "${env}-plan-stack-reader" = {
        principal = "plan"
        env       = env
        scope     = azurerm_resource_group.stack[env].id
        role      = "Reader"
        reason    = "plan refreshes every resource of the ${env} stack (control plane only: the roots set storage data_plane_available = false)"
        condition = null
      }
      "${env}-plan-state-blob" = {
        principal = "plan"
        env       = env
        scope     = azurerm_storage_container.state[env].id
        role      = "Storage Blob Data Contributor"
        reason    = "plan reads the ${env} state and takes its blob lease (the state lock, a write); it cannot change the stack, and the state is versioned"
        condition = null
      }
    }
  ]...)

  # `cond ? {...} : {}` is a type error in Terraform, so the optional roles are filtered instead.
  runner_roles = {
    for key, role in {
      prod-runner-vnet = {
        principal = "deploy"
        env       = "prod"
        scope     = try(azurerm_virtual_network.runner["prod"].id, null)
        role      = "Network Contributor"
        reason    = "infra/ peers the prod VNet with the runner VNet and links prod's private DNS zones to it (peer and join actions on this VNet only)"
        condition = null
        when      = var.ci_runner.enabled
      }
      prod-plan-runner-vnet = {
        principal = "plan"
        env       = "prod"
        scope     = try(azurerm_virtual_network.runner["prod"].id, null)
        role      = "Reader"
        reason    = "prod's plan reads the runner VNet (infra/'s data source, the peering and DNS links to it)"
        condition = null
        when      = var.ci_runner.enabled
      }
      # Per runner: its own identity pulls the shared image (AcrPull is read-only) and reads the
      # registration token in its own vault only; dev's identity has no role on prod's vault.
      # At vault scope, granted in the first run (when the vault is made), so that it has propagated
      # long before the second run creates the job that resolves the secret reference; each vault
      # holds that one secret only. https://learn.microsoft.com/azure/key-vault/general/rbac-guide
      # https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---role-assignment-changes-are-not-being-detected
      dev-runner-acr-pull = {
        principal = "runner"
        env       = "dev"
        scope     = one(azurerm_container_registry.runner[*].id)
        role      = "AcrPull"
        reason    = "dev's runner job, running as its own identity, pulls its image"
        condition = null
        when      = var.ci_runner.enabled
      }
      dev-runner-token = {
        principal = "runner"
        env       = "dev"
        scope     = try(azurerm_key_vault.runner["dev"].id, null)
        role      = "Key Vault Secrets User"
        reason    = "dev's runner job reads dev's registration token (its vault's one secret) to register and to poll the queue"
        condition = null
        when      = var.ci_runner.enabled
      }
      prod-runner-acr-pull = {
        principal = "runner"
        env       = "prod"
        scope     = one(azurerm_container_registry.runner[*].id)
        role      = "AcrPull"
        reason    = "the runner job, running as its own identity, pulls its image"
        condition = null
        when      = var.ci_runner.enabled
      }
      prod-runner-token = {
        principal = "runner"
        env       = "prod"
        scope     = try(azurerm_key_vault.runner["prod"].id, null)
        role      = "Key Vault Secrets User"
        reason    = "the runner job reads the registration token (the vault's one secret) to register and to poll the queue"
        condition = null
        when      = var.ci_runner.enabled
      }
    } : key => { for field, value in role : field => value if field != "when" } if role.when
  }

  role_assignments = merge(local.per_environment_roles, local.runner_roles)
}

resource "azurerm_role_assignment" "this" {
  for_each = local.role_assignments

  scope = each.value.scope
  # Built-in roles by name; the custom lock role by its id.
  role_definition_name = try(each.value.role_definition, null) == null ? each.value.role : null
  role_definition_id   = try(each.value.role_definition, null)
  principal_id = (
    each.value.principal == "deploy" ? azurerm_user_assigned_identity.deploy[each.value.env].principal_id :
    each.value.principal == "plan" ? azurerm_user_assigned_identity.plan[each.value.env].principal_id :
    azurerm_user_assigned_identity.runner[each.value.env].principal_id
  )
  principal_type    = "ServicePrincipal"
  description       = "forecast-stack bootstrap ${each.key}: ${each.value.reason}"
  condition         = each.value.condition
  condition_version = each.value.condition == null ? null : "2.0"
}
