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

# Prod's deploying identity peers prod's VNet with the runner VNet and links prod's private DNS
# zones to it; Network Contributor on the runner VNet would also let it rewire the runner subnet's
# NSG, NAT gateway and delegation. This role holds only what peering and DNS links need on the
# remote VNet. https://learn.microsoft.com/azure/virtual-network/virtual-network-manage-peering#permissions
# https://learn.microsoft.com/azure/dns/dns-protect-private-zones-recordsets (virtualNetworks/join/action for links)
resource "azurerm_role_definition" "runner_peering" {
  count = var.ci_runner.enabled ? 1 : 0

  # tenant-unique, like lock_operator's (RoleDefinitionWithSameNameExists on a second bootstrap)
  name        = "forecast-stack runner VNet peering (${var.workload}, subscription ${data.azurerm_client_config.current.subscription_id})"
  scope       = azurerm_resource_group.bootstrap.id
  description = "Peer a stack VNet with the prod runner VNet and link private DNS zones to it (nothing else)."

  permissions {
    actions = [
      "Microsoft.Network/virtualNetworks/read",
      "Microsoft.Network/virtualNetworks/peer/action",
      "Microsoft.Network/virtualNetworks/join/action",
      "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/read",
      "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write",
      "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/delete",
    ]
    not_actions = []
  }

  assignable_scopes = [try(azurerm_virtual_network.runner["prod"].id, azurerm_resource_group.bootstrap.id)]
}

# Dev's lake and workspace storage admit dev's runner subnet by VNet rule (infra/main.tf,
# storage_subnet_ids: the subnet's Microsoft.Storage.Global service endpoint hides the runner's
# egress IP). Adding a subnet to a storage account's VNet rules is checked against the caller's
# rights on that subnet: "Storage Account Contributor or ... permission to the
# Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action Azure resource provider
# operation", and the subnet lives in the bootstrap's group, where the deploying identity holds
# nothing, so dev's first apply would stop with LinkedAuthorizationFailed (review 22 runtime N3).
# This role holds that one action, assignable on each environment's own runner subnet only.
# https://learn.microsoft.com/azure/storage/common/storage-network-security-virtual-networks#required-permissions
# Only the environments whose stack names its runner subnet (envs/<env>/terraform.tfvars,
# ci_runner_subnet_id) get it: dev. Prod's storage has no VNet rule (private endpoints only;
# envs/prod/terraform.tfvars sets ci_runner_subnet_id = null), so prod's deployer gets no join right
# (least privilege; review tffix MINOR-4). tests/infra/test_release_path.py checks the two agree.
locals {
  runner_subnet_join_environments = ["dev"]
  subnet_joining_runners          = { for env, runner in local.runners : env => runner if contains(local.runner_subnet_join_environments, env) }
}

resource "azurerm_role_definition" "runner_subnet_join" {
  for_each = local.subnet_joining_runners

  # tenant-unique, like lock_operator's (RoleDefinitionWithSameNameExists on a second bootstrap)
  name        = "forecast-stack runner subnet service endpoint join (${var.workload} ${each.key}, subscription ${data.azurerm_client_config.current.subscription_id})"
  scope       = azurerm_resource_group.bootstrap.id
  description = "Add the ${each.key} runner subnet to a storage account's VNet rules (nothing else)."

  permissions {
    actions = [
      "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
    ]
    not_actions = []
  }

  assignable_scopes = [azurerm_subnet.runner[each.key].id]
}

locals {
  # The RBAC Administrator condition is an allow-list: the deploying identity may assign and
  # remove only the roles infra/ assigns (var.assignable_role_ids), and only to service principals
  # (the stack's managed identities), never to users or groups.
  # https://learn.microsoft.com/azure/role-based-access-control/delegate-role-assignments-examples#example-constrain-roles-and-principal-types
  assignable_role_ids   = join(", ", sort(values(var.assignable_role_ids)))
  only_assignable_roles = <<-CONDITION
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
     )
     OR
     (
      @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${local.assignable_role_ids}}
      AND
      @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}
     )
    )
    AND
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})
     )
     OR
     (
      @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${local.assignable_role_ids}}
      AND
      @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}
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
        reason    = "infra/main.rbac.tf grants the stack's own identities data roles (lake, vault, workspace, registry, telemetry); condition: only the roles in var.assignable_role_ids, only to service principals"
        condition = local.only_assignable_roles
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
      # Reader, not Contributor: the plan job runs code from any release/* branch before approval,
      # so it must not be able to rewrite the state. It plans with -lock=false (a lease is a
      # write); apply takes the lock and refuses a plan made from another state serial.
      # https://developer.hashicorp.com/terraform/cli/commands/plan#lock-false
      "${env}-plan-state-blob" = {
        principal = "plan"
        env       = env
        scope     = azurerm_storage_container.state[env].id
        role      = "Storage Blob Data Reader"
        reason    = "plan reads the ${env} state (no lease: it plans with -lock=false); it cannot write the state or change the stack"
        condition = null
      }
    }
  ]...)

  # `cond ? {...} : {}` is a type error in Terraform, so the optional roles are filtered instead.
  # No runner holds any role: the runners are GitHub's or Managed DevOps Pools' machines with no
  # identity of ours.
  runner_roles = {
    for key, role in {
      prod-runner-vnet = {
        principal       = "deploy"
        env             = "prod"
        scope           = try(azurerm_virtual_network.runner["prod"].id, null)
        role_definition = try(azurerm_role_definition.runner_peering[0].role_definition_resource_id, null)
        role            = "forecast-stack runner VNet peering"
        reason          = "infra/ peers the prod VNet with the runner VNet and links prod's private DNS zones to it (peer, join and peering actions on this VNet only; not its subnets, NSG or NAT)"
        condition       = null
        when            = var.ci_runner.enabled
      }
      prod-plan-runner-vnet = {
        principal       = "plan"
        env             = "prod"
        scope           = try(azurerm_virtual_network.runner["prod"].id, null)
        role_definition = null
        role            = "Reader"
        reason          = "prod's plan reads the runner VNet (infra/'s data source, the peering and DNS links to it)"
        condition       = null
        when            = var.ci_runner.enabled
      }
    } : key => { for field, value in role : field => value if field != "when" } if role.when
  }

  # Each joining environment's deploying identity may put its own runner subnet (not the other's)
  # into its stack's storage VNet rules (azurerm_role_definition.runner_subnet_join above; dev only).
  subnet_join_roles = {
    for env in keys(local.subnet_joining_runners) : "${env}-runner-subnet-join" => {
      principal       = "deploy"
      env             = env
      scope           = azurerm_subnet.runner[env].id
      role_definition = azurerm_role_definition.runner_subnet_join[env].role_definition_resource_id
      role            = "forecast-stack runner subnet service endpoint join (${env})"
      reason          = "infra/ admits the ${env} runner subnet in the ${env} lake's and workspace storage's VNet rules (ci_runner_subnet_id); joinViaServiceEndpoint on this subnet only"
      condition       = null
    }
  }

  # Managed DevOps Pools injects its agents into the subnet as the DevOpsInfrastructure service
  # principal, which needs Reader and Network Contributor on the VNet.
  # https://learn.microsoft.com/azure/devops/managed-devops-pools/configure-networking#grant-reader-and-network-contributor-access-to-devopsinfrastructure-service-principal
  pool_network_roles = var.ci_runner.enabled && var.ci_runner.platform == "azure-pipelines" ? merge([
    for env in keys(local.runners) : {
      for role in ["Reader", "Network Contributor"] : "${env}-pool-${lower(replace(role, " ", "-"))}" => {
        principal = "devops-infrastructure"
        env       = env
        scope     = azurerm_virtual_network.runner[env].id
        role      = role
        reason    = "Managed DevOps Pools' service principal joins the ${env} pool's agents to the runner subnet"
        condition = null
      }
    }
  ]...) : {}

  role_assignments = merge(local.per_environment_roles, local.runner_roles, local.subnet_join_roles, local.pool_network_roles)
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
    var.devops_infrastructure_principal_id
  )
  principal_type    = "ServicePrincipal"
  description       = "forecast-stack bootstrap ${each.key}: ${each.value.reason}"
  condition         = each.value.condition
  condition_version = each.value.condition == null ? null : "2.0"
}
