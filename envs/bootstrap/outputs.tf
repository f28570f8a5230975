output "deploying_identities" {
  value = {
    for env in local.environments : env => {
      client_id    = azurerm_user_assigned_identity.deploy[env].client_id
      principal_id = azurerm_user_assigned_identity.deploy[env].principal_id
      tenant_id    = azurerm_user_assigned_identity.deploy[env].tenant_id
    }
  }
  description = "Per environment: the deploying identity, named by the AZURE_CLIENT_ID / AZURE_TENANT_ID variables of the GitHub environment <env> or by the Azure DevOps service connection <env>. Ids, not secrets."
}

output "plan_identities" {
  value = {
    for env in local.environments : env => {
      client_id    = azurerm_user_assigned_identity.plan[env].client_id
      principal_id = azurerm_user_assigned_identity.plan[env].principal_id
      tenant_id    = azurerm_user_assigned_identity.plan[env].tenant_id
    }
  }
  description = "Per environment: the read-only plan identity, named by the variables of the GitHub environment <env>-plan or by the Azure DevOps service connection <env>-plan. Ids, not secrets."
}

output "state" {
  value = {
    resource_group_name  = azurerm_resource_group.bootstrap.name
    storage_account_name = azurerm_storage_account.state.name
    containers           = { for env, container in azurerm_storage_container.state : env => container.name }
  }
  description = "Where each environment's state lives: the pipeline's TFSTATE_* variables and scripts/write_backend_config.sh arguments."
}

output "stack_resource_groups" {
  value       = { for env, group in azurerm_resource_group.stack : env => group.name }
  description = "The stacks' resource groups, created here and imported by envs/<env>."
}

output "ci_runners" {
  value = {
    for env, runner in local.runners : env => {
      platform = var.ci_runner.platform
      # GitHub: the runner group and label its jobs ask for (DEV_/PROD_RUNNER_GROUP, _LABEL), and the
      # id an organisation owner gives GitHub's network configuration (README "Azure: first deploy", step 5).
      github_runner_group        = runner.runner_group
      labels                     = runner.labels
      github_network_settings_id = module.ci_runner[env].github_network_settings_id
      # Azure DevOps: the Managed DevOps Pool's agent pool (DEV_AGENT_POOL / PROD_AGENT_POOL).
      azure_pipelines_pool = module.ci_runner[env].azure_pipelines_pool
      resource_id          = module.ci_runner[env].resource_id
      virtual_network_id   = azurerm_virtual_network.runner[env].id
      # dev's goes into the stack's storage VNet rules (ci_runner_subnet_id) and its egress IP into
      # ci_runner_egress_ip (SQL and Key Vault IP rules).
      subnet_id = azurerm_subnet.runner[env].id
      egress_ip = azurerm_public_ip.runner_egress[env].ip_address
    }
  }
  description = "Per environment, its own runner: GitHub runner group, label and network-settings id, or the Managed DevOps Pool's agent pool; VNet id (prod's is ci_runner_network; dev's is peered with nothing), subnet id (dev's storage VNet rules) and static egress IP (dev's ci_runner_egress_ip). No secrets: the runners hold none."
}

output "ci_runner" {
  value = {
    labels             = try(local.runners["prod"].labels, null)
    virtual_network_id = try(azurerm_virtual_network.runner["prod"].id, null)
    subnet_id          = try(azurerm_subnet.runner["prod"].id, null)
    egress_ip          = try(azurerm_public_ip.runner_egress["prod"].ip_address, null)
  }
  description = "Prod's runner only, in the shape infra/ reads (= ci_runners.prod). Dev's runner, and dev's ci_runner_egress_ip, are ci_runners.dev."
}

output "role_assignments" {
  value       = { for key, role in local.role_assignments : key => { identity = role.principal, environment = role.env, role = role.role, scope = role.scope, reason = role.reason } }
  description = "Every role the deploying, plan and runner identities hold: identity, role, scope and reason (for the audit)."
}
