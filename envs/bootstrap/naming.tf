# Every name the bootstrap gives, and Azure's rule for each kind of name. Provider-free (locals and
# one output), so tests/infra/test_bootstrap_names.py plans this file with variables.tf alone, offline.
# A name that breaks its rule, or that dev and prod would share, stops the plan at output "names"
# with the name, the rule and the fix, instead of failing half-way through an apply.
# https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules

locals {
  environments = toset(["dev", "prod"])

  names = {
    bootstrap_resource_group = "rg-${var.workload}-bootstrap-${var.location_short}"
    # Must equal infra/naming.tf's resource_group: the stack's group, imported by envs/<env>/main.tf.
    stack_resource_group = { for env in local.environments : env => "rg-${var.workload}-${env}-${var.location_short}" }
    identity             = { for env in local.environments : env => "id-${var.workload}-deploy-${env}" }
    plan_identity        = { for env in local.environments : env => "id-${var.workload}-plan-${env}" }
    state_container      = { for env in setunion(local.environments, ["bootstrap"]) : env => "tfstate-${env}" }
    # Prod's runner VNet keeps the name it had as the only runner; dev's carries "dev".
    runner_vnet = { dev = "vnet-${var.workload}-ci-dev-${var.location_short}", prod = "vnet-${var.workload}-ci-${var.location_short}" }
    # The runner resource: GitHub.Network/networkSettings (GitHub) or the Managed DevOps Pool,
    # whose name is also the Azure DevOps agent pool's (DEV_AGENT_POOL / PROD_AGENT_POOL).
    runner             = { for env in local.environments : env => "ci-${var.workload}-${env}-${var.location_short}" }
    dev_center         = "dc-${var.workload}-ci-${var.location_short}"
    dev_center_project = "dcp-${var.workload}-ci"
  }

  # Which rule each name follows; the per-environment ones must also differ between dev and prod.
  per_environment_name_kinds = {
    stack_resource_group = "resource_group"
    identity             = "managed_identity"
    plan_identity        = "managed_identity"
    runner_vnet          = "virtual_network"
    runner               = "managed_devops_pool"
  }
  checked_names = merge(
    {
      bootstrap_resource_group = { name = local.names.bootstrap_resource_group, kind = "resource_group" }
      dev_center               = { name = local.names.dev_center, kind = "dev_center" }
      dev_center_project       = { name = local.names.dev_center_project, kind = "dev_center" }
      state_storage_account    = { name = var.state_storage_account_name, kind = "storage_account" }
    },
    merge([
      for group, kind in local.per_environment_name_kinds : {
        for env, name in local.names[group] : "${group}.${env}" => { name = name, kind = kind }
      }
    ]...)
  )

  # Azure's rules (Terraform's regex has no look-ahead, so "no consecutive hyphens" is its own test).
  name_rules = {
    # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftstorage
    storage_account = {
      pattern = "^[a-z0-9]{3,24}$", single_hyphens = false
      rule    = "storage account: 3-24 lowercase letters and digits"
    }
    # Managed DevOps Pools: 3-44 letters, digits, hyphens and periods, starting and ending with a
    # letter or digit (the pool name is also the Azure DevOps agent pool's); the same shape fits
    # GitHub.Network/networkSettings.
    # https://learn.microsoft.com/azure/devops/managed-devops-pools/create-resources#create-the-managed-devops-pool
    managed_devops_pool = {
      pattern = "^[a-zA-Z0-9][a-zA-Z0-9.-]{1,42}[a-zA-Z0-9]$", single_hyphens = false
      rule    = "Managed DevOps Pool: 3-44 letters, digits, hyphens and periods, starting and ending with a letter or digit"
    }
    # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftdevcenter
    dev_center = {
      pattern = "^[a-zA-Z0-9][a-zA-Z0-9_.-]{2,62}$", single_hyphens = false
      rule    = "Dev Center and project: 3-63 letters, digits, hyphens, underscores and periods, starting with a letter or digit"
    }
    # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftmanagedidentity
    managed_identity = {
      pattern = "^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$", single_hyphens = false
      rule    = "user-assigned identity: 3-128 letters, digits, hyphens and underscores, starting with a letter or digit"
    }
    # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftresources
    resource_group = {
      pattern = "^[a-zA-Z0-9._()-]{0,89}[a-zA-Z0-9_()-]$", single_hyphens = false
      rule    = "resource group: 1-90 letters, digits, underscores, hyphens, periods and parentheses, not ending with a period"
    }
    # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftnetwork
    virtual_network = {
      pattern = "^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}[a-zA-Z0-9_]$", single_hyphens = false
      rule    = "virtual network: 2-64 letters, digits, underscores, periods and hyphens, starting with a letter or digit, ending with a letter, digit or underscore"
    }
  }

  name_violations = concat(
    [
      for key, entry in local.checked_names :
      "${key} \"${entry.name}\" breaks the ${local.name_rules[entry.kind].rule} rule"
      if !can(regex(local.name_rules[entry.kind].pattern, entry.name)) || (local.name_rules[entry.kind].single_hyphens && strcontains(entry.name, "--"))
    ],
    [
      for group in keys(local.per_environment_name_kinds) :
      "${group}: dev and prod are both \"${local.names[group]["dev"]}\""
      if local.names[group]["dev"] == local.names[group]["prod"]
    ],
  )
}

output "names" {
  value       = local.names
  description = "Every name the bootstrap gives (resource groups, identities, runner VNets, runners, Dev Center), each checked against Azure's rule for its kind."

  precondition {
    condition     = length(local.name_violations) == 0
    error_message = "The bootstrap's names break Azure's rules: ${join("; ", local.name_violations)}. Shorten workload or name_suffix (or state_storage_account_name); https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules"
  }
}
