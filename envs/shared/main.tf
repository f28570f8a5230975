# The code of both cloud roots: envs/dev/main.tf and envs/prod/main.tf are links to this file, so
# the two stacks differ only in their backend.tf (the state key) and terraform.tfvars (the values).
# A thin root: the provider, then the stack with the environment's values. No resources here.
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
    # A destroyed workspace is soft-deleted and keeps its name for 14 days, so dev (destroyed and
    # re-created by `make destroy ENV=dev`) purges it; prod keeps the soft delete as a safety net
    # (issue 22 item 14). https://learn.microsoft.com/azure/machine-learning/concept-soft-delete
    # https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/guides/features-block#machine_learning
    machine_learning {
      purge_soft_deleted_workspace_on_destroy = var.environment != "prod"
    }
  }
  # Shared keys are disabled on every storage account, so the provider must use Entra ID too.
  storage_use_azuread = true
  use_oidc            = true
  # The deploying identity holds no subscription-scope rights (envs/bootstrap/main.rbac.tf); the
  # bootstrap registered the resource providers the stack needs.
  resource_provider_registrations = "none"
}

# The stack's resource group is created and owned by the bootstrap (envs/bootstrap); the stack
# reads it as a data source (infra/main.tf). A state that still holds the group from the former
# import forgets it here without deleting it.
# https://developer.hashicorp.com/terraform/language/resources/syntax#removing-resources
removed {
  from = module.stack.azurerm_resource_group.this

  lifecycle {
    destroy = false
  }
}

provider "azapi" {
  use_oidc = true
}

module "stack" {
  source = "../../infra"

  environment                   = var.environment
  location                      = var.location
  location_short                = var.location_short
  workload                      = var.workload
  name_suffix                   = var.name_suffix
  tags                          = var.tags
  network                       = var.network
  public_network_access_enabled = var.public_network_access_enabled
  allowed_ip_ranges             = var.allowed_ip_ranges
  ci_runner_egress_ip           = var.ci_runner_egress_ip
  ci_runner_subnet_id           = var.ci_runner_subnet_id
  deployer_object_id            = var.deployer_object_id
  zone_redundant                = var.zone_redundant
  resource_locks_enabled        = var.resource_locks_enabled
  diagnostic_settings_enabled   = var.diagnostic_settings_enabled
  aml                           = var.aml
  data_lake                     = var.data_lake
  sql                           = var.sql
  powerbi                       = var.powerbi
  schedules                     = var.schedules
  monitoring                    = var.monitoring
  ci_runner_network             = var.ci_runner_network
}

output "stack" {
  value       = module.stack.stack
  description = "The stack contract read by stackctl deploy (terraform output -json)."
}

output "application_insights_connection_string" {
  value       = module.stack.application_insights_connection_string
  sensitive   = true
  description = "The jobs' APPLICATIONINSIGHTS_CONNECTION_STRING (not a secret, https://learn.microsoft.com/azure/azure-monitor/app/connection-strings; sensitive because the provider marks it)."
}
