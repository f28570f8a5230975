# Every role the deploying identities hold, with its scope and the reason; nothing at subscription
# scope. A stack's resource group is a scope here only because this root creates it first.
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

  per_environment_roles = merge([
    for env in local.environments : {
      "${env}-stack-contributor" = {
        principal = env
        scope     = azurerm_resource_group.stack[env].id
        role      = "Contributor"
        reason    = "create, change and delete every resource of the ${env} stack inside its resource group"
        condition = null
      }
      "${env}-stack-rbac-admin" = {
        principal = env
        scope     = azurerm_resource_group.stack[env].id
        role      = "Role Based Access Control Administrator"
        reason    = "infra/main.rbac.tf and the modules grant the stack's own identities data roles (lake, vault, workspace); AML grants its workspace identity roles on its dependencies; never a privileged role (condition)"
        condition = local.no_privileged_roles
      }
      "${env}-state-blob" = {
        principal = env
        scope     = azurerm_storage_container.state[env].id
        role      = "Storage Blob Data Contributor"
        reason    = "read and write the ${env} state and take its blob lease (the state lock); only its own container"
        condition = null
      }
    }
  ]...)

  # `cond ? {...} : {}` is a type error in Terraform, so the optional roles are filtered instead.
  runner_roles = {
    for key, role in {
      prod-runner-vnet = {
        principal = "prod"
        scope     = one(azurerm_virtual_network.runner[*].id)
        role      = "Network Contributor"
        reason    = "infra/ peers the prod VNet with the runner VNet and links prod's private DNS zones to it (peer and join actions on this VNet only)"
        condition = null
        when      = var.ci_runner.enabled
      }
      prod-runner-acr-pull = {
        principal = "prod"
        scope     = one(azurerm_container_registry.runner[*].id)
        role      = "AcrPull"
        reason    = "the runner job, running as the prod deploying identity, pulls its image"
        condition = null
        when      = var.ci_runner.enabled
      }
      # Scoped to the one secret, which exists by the second run (Key Vault RBAC at secret scope:
      # https://learn.microsoft.com/azure/key-vault/general/rbac-guide).
      prod-runner-token = {
        principal = "prod"
        scope     = "${join("", azurerm_key_vault.runner[*].id)}/secrets/${var.ci_runner.registration_token_secret_name}"
        role      = "Key Vault Secrets User"
        reason    = "the runner job reads the registration token (that one secret) to register and to poll the queue"
        condition = null
        when      = local.runner_ready
      }
    } : key => { for field, value in role : field => value if field != "when" } if role.when
  }

  role_assignments = merge(local.per_environment_roles, local.runner_roles)
}

resource "azurerm_role_assignment" "this" {
  for_each = local.role_assignments

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = azurerm_user_assigned_identity.deploy[each.value.principal].principal_id
  principal_type       = "ServicePrincipal"
  description          = "forecast-stack bootstrap ${each.key}: ${each.value.reason}"
  condition            = each.value.condition
  condition_version    = each.value.condition == null ? null : "2.0"
}
