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
    # Prod's runner keeps the names it had as the only runner; dev's carry "dev".
    runner_identity  = { dev = "id-${var.workload}-ci-runner-dev", prod = "id-${var.workload}-ci-runner-prod" }
    state_container  = { for env in setunion(local.environments, ["bootstrap"]) : env => "tfstate-${env}" }
    runner_vnet      = { dev = "vnet-${var.workload}-ci-dev-${var.location_short}", prod = "vnet-${var.workload}-ci-${var.location_short}" }
    runner_registry  = "cr${var.workload}ci${var.name_suffix}"
    runner_key_vault = { dev = "kv-${var.workload}-cid-${var.name_suffix}", prod = "kv-${var.workload}-ci-${var.name_suffix}" }
    runner_job       = { dev = "caj-${var.workload}-runner-dev", prod = "caj-${var.workload}-runner-prod" }
    # Azure DevOps only: the job that registers each pool's offline placeholder agent
    # (modules/ci_runner). Named per environment in full: a prefix of the runner job's name cut to
    # fit would be the same for dev and prod (both jobs live in the bootstrap's resource group).
    runner_placeholder = { for env in local.environments : env => "caj-${var.workload}-placeholder-${env}" }
  }

  # Which rule each name follows; the per-environment ones must also differ between dev and prod.
  per_environment_name_kinds = {
    stack_resource_group = "resource_group"
    identity             = "managed_identity"
    plan_identity        = "managed_identity"
    runner_identity      = "managed_identity"
    runner_vnet          = "virtual_network"
    runner_key_vault     = "key_vault"
    runner_job           = "container_app_job"
    runner_placeholder   = "container_app_job"
  }
  checked_names = merge(
    {
      bootstrap_resource_group = { name = local.names.bootstrap_resource_group, kind = "resource_group" }
      runner_registry          = { name = local.names.runner_registry, kind = "container_registry" }
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
    # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftkeyvault
    key_vault = {
      pattern = "^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", single_hyphens = true
      rule    = "Key Vault: 3-24 letters, digits and hyphens, starting with a letter, ending with a letter or digit, no consecutive hyphens"
    }
    # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftstorage
    storage_account = {
      pattern = "^[a-z0-9]{3,24}$", single_hyphens = false
      rule    = "storage account: 3-24 lowercase letters and digits"
    }
    # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftcontainerregistry
    container_registry = {
      pattern = "^[a-zA-Z0-9]{5,50}$", single_hyphens = false
      rule    = "container registry: 5-50 letters and digits"
    }
    # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftapp
    # (Container Apps jobs follow the container app rule.)
    container_app_job = {
      pattern = "^[a-z][a-z0-9-]{0,30}[a-z0-9]$", single_hyphens = true
      rule    = "Container Apps job: 2-32 lowercase letters, digits and hyphens, starting with a letter, ending with a letter or digit, no consecutive hyphens"
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

  # Container Apps jobs share the bootstrap's resource group: every job name there must be distinct.
  container_app_jobs = concat(values(local.names.runner_job), values(local.names.runner_placeholder))

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
    length(distinct(local.container_app_jobs)) == length(local.container_app_jobs) ? [] : [
      "the Container Apps jobs ${jsonencode(local.container_app_jobs)} share a name in the bootstrap's resource group"
    ],
  )
}

output "names" {
  value       = local.names
  description = "Every name the bootstrap gives (resource groups, identities, runner VNets, registry, vaults, runner and placeholder jobs), each checked against Azure's rule for its kind."

  precondition {
    condition     = length(local.name_violations) == 0
    error_message = "The bootstrap's names break Azure's rules: ${join("; ", local.name_violations)}. Shorten workload or name_suffix (or state_storage_account_name); https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules"
  }
}
