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
      labels = runner.labels
      # GitHub: prod's organisation runner group (PROD_RUNNER_GROUP); null for dev's repository runners.
      github_runner_group  = try(local.github_registration[env].runner_group, null)
      azure_pipelines_pool = runner.azure_pipelines_pool
      identity_client_id   = azurerm_user_assigned_identity.runner[env].client_id
      virtual_network_id   = azurerm_virtual_network.runner[env].id
      registry             = one(azurerm_container_registry.runner[*].login_server)
      key_vault            = azurerm_key_vault.runner[env].name
      job_id               = local.runner_ready ? module.ci_runner[env].resource_id : null
      # dev's goes into envs/dev/terraform.tfvars as ci_runner_egress_ip (a bare address).
      egress_ip = azurerm_public_ip.runner_egress[env].ip_address
    }
  }
  description = "Per environment, its own runner: labels (DEV_RUNNER_LABEL / PROD_RUNNER_LABEL), prod's GitHub runner group (PROD_RUNNER_GROUP), agent pool (DEV_AGENT_POOL / PROD_AGENT_POOL), VNet id (prod's is ci_runner_network; dev's is peered with nothing), static egress IP (dev's is ci_runner_egress_ip), registry and the vault for that runner's registration token."
}

output "ci_runner" {
  value = {
    labels             = try(local.runners["prod"].labels, null)
    identity_client_id = try(azurerm_user_assigned_identity.runner["prod"].client_id, null)
    virtual_network_id = try(azurerm_virtual_network.runner["prod"].id, null)
    registry           = one(azurerm_container_registry.runner[*].login_server)
    key_vault          = try(azurerm_key_vault.runner["prod"].name, null)
    job_id             = try(module.ci_runner["prod"].resource_id, null)
    egress_ip          = try(azurerm_public_ip.runner_egress["prod"].ip_address, null)
  }
  description = "Prod's runner only, in the shape this output had when one runner served both (= ci_runners.prod). Dev's runner, and dev's ci_runner_egress_ip, are ci_runners.dev."
}

output "role_assignments" {
  value       = { for key, role in local.role_assignments : key => { identity = role.principal, environment = role.env, role = role.role, scope = role.scope, reason = role.reason } }
  description = "Every role the deploying, plan and runner identities hold: identity, role, scope and reason (for the audit)."
}
