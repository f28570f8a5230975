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

output "ci_runner" {
  value = {
    labels             = var.ci_runner.labels
    identity_client_id = var.ci_runner.enabled ? azurerm_user_assigned_identity.runner[0].client_id : null
    virtual_network_id = var.ci_runner.enabled ? azurerm_virtual_network.runner[0].id : null
    registry           = var.ci_runner.enabled ? azurerm_container_registry.runner[0].login_server : null
    key_vault          = var.ci_runner.enabled ? azurerm_key_vault.runner[0].name : null
    job_id             = local.runner_ready ? module.ci_runner[0].resource_id : null
    # Put into envs/dev/terraform.tfvars as ci_runner_egress_ip (a bare address): dev's firewalls admit the runner.
    egress_ip = var.ci_runner.enabled ? azurerm_public_ip.runner_egress[0].ip_address : null
  }
  description = "The runner (dev and prod): its labels (DEV_RUNNER_LABEL, PROD_RUNNER_LABEL), VNet id (prod's ci_runner_network), static egress IP (dev's ci_runner_egress_ip), registry and vault for the image and token."
}

output "role_assignments" {
  value       = { for key, role in local.role_assignments : key => { identity = role.principal, environment = role.env, role = role.role, scope = role.scope, reason = role.reason } }
  description = "Every role the deploying, plan and runner identities hold: identity, role, scope and reason (for the audit)."
}
