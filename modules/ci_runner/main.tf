# Ephemeral CI runners inside a VNet: an Azure Container Apps job, event-triggered by KEDA, that
# starts one container per queued pipeline job; the container registers as an ephemeral runner
# (GitHub Actions) or agent (Azure Pipelines), runs that one job, and exits.
# https://learn.microsoft.com/azure/container-apps/tutorial-ci-cd-runners-jobs
# KEDA scalers: https://keda.sh/docs/latest/scalers/github-runner/ and
# https://keda.sh/docs/latest/scalers/azure-pipelines/
#
# No public inbound: a job has no ingress at all, and the environment is internal (its load
# balancer gets a private IP in the subnet). Outbound goes through the VNet, so the runner reaches
# the stack's private endpoints over the peering and resolves them through the private DNS zones
# that infra/ links to this VNet.
# https://learn.microsoft.com/azure/container-apps/networking

# Where and how the runners register, and what KEDA polls: main.registration.tf (locals only).

resource "azurerm_log_analytics_workspace" "this" {
  name                = "log-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_in_days
  tags                = var.tags
}

resource "azurerm_container_app_environment" "this" {
  name                       = "cae-${var.name}"
  location                   = var.location
  resource_group_name        = var.resource_group_name
  log_analytics_workspace_id = azurerm_log_analytics_workspace.this.id
  infrastructure_subnet_id   = var.infrastructure_subnet_id
  # Internal: no public IP; the environment's endpoints live on the subnet only.
  internal_load_balancer_enabled = true
  zone_redundancy_enabled        = var.zone_redundant
  # A workload-profiles environment: a /27 subnet suffices and user-defined routes are supported.
  # https://learn.microsoft.com/azure/container-apps/networking#subnet
  infrastructure_resource_group_name = "ME_cae-${var.name}"
  workload_profile {
    name                  = "Consumption"
    workload_profile_type = "Consumption"
  }
  tags = var.tags
}

resource "azurerm_container_app_job" "this" {
  name                         = var.name
  location                     = var.location
  resource_group_name          = var.resource_group_name
  container_app_environment_id = azurerm_container_app_environment.this.id
  workload_profile_name        = "Consumption"
  # One pipeline job per execution; a prod apply plus deploy can take well over an hour.
  replica_timeout_in_seconds = var.job_timeout_in_seconds
  replica_retry_limit        = 0

  identity {
    type         = "UserAssigned"
    identity_ids = [var.identity.resource_id]
  }

  registry {
    server   = var.image.registry_login_server
    identity = var.identity.resource_id
  }

  # A Key Vault reference: the token never passes through Terraform or its state.
  # https://learn.microsoft.com/azure/container-apps/manage-secrets#reference-secret-from-key-vault
  secret {
    name                = local.secret_name
    identity            = var.identity.resource_id
    key_vault_secret_id = var.registration_key_vault_reference
  }

  event_trigger_config {
    parallelism              = 1
    replica_completion_count = 1
    scale {
      min_executions              = 0
      max_executions              = var.max_executions
      polling_interval_in_seconds = 30
      rules {
        name             = local.scale_rule.name
        custom_rule_type = local.scale_rule.type
        metadata         = local.scale_rule.metadata
        authentication {
          secret_name       = local.secret_name
          trigger_parameter = local.scale_rule.trigger_parameter
        }
      }
    }
  }

  template {
    container {
      name   = "runner"
      image  = "${var.image.registry_login_server}/${var.image.repository}:${var.image.tag}"
      cpu    = var.cpu
      memory = var.memory

      dynamic "env" {
        for_each = local.container_env
        content {
          name  = env.key
          value = env.value
        }
      }
      env {
        name        = local.token_env_name
        secret_name = local.secret_name
      }
    }
  }

  tags = var.tags
}

# Azure DevOps only: a job run once by hand (README, "Prerequisites for Azure") that registers an
# agent and exits without taking a job. Azure DevOps fails a queued job at once when its pool has no
# agent at all, and KEDA scales the runner job to zero, so the pool needs this placeholder agent
# (offline from then on) for KEDA to ever see a queued job.
# https://learn.microsoft.com/azure/container-apps/tutorial-ci-cd-runners-jobs?pivots=container-apps-jobs-self-hosted-ci-cd-azure-pipelines
resource "azurerm_container_app_job" "placeholder" {
  count = local.github ? 0 : 1

  # Given by the caller (the bootstrap: one per environment), never cut from var.name: two runners'
  # names cut to one length would collide in their shared resource group.
  name                         = var.placeholder_name
  location                     = var.location
  resource_group_name          = var.resource_group_name
  container_app_environment_id = azurerm_container_app_environment.this.id
  workload_profile_name        = "Consumption"
  replica_timeout_in_seconds   = 300
  replica_retry_limit          = 0

  identity {
    type         = "UserAssigned"
    identity_ids = [var.identity.resource_id]
  }

  registry {
    server   = var.image.registry_login_server
    identity = var.identity.resource_id
  }

  secret {
    name                = local.secret_name
    identity            = var.identity.resource_id
    key_vault_secret_id = var.registration_key_vault_reference
  }

  manual_trigger_config {
    parallelism              = 1
    replica_completion_count = 1
  }

  template {
    container {
      name   = "placeholder"
      image  = "${var.image.registry_login_server}/${var.image.repository}:${var.image.tag}"
      cpu    = 0.5
      memory = "1Gi"

      dynamic "env" {
        for_each = merge(local.container_env, { AZP_PLACEHOLDER = "1", AZP_AGENT_NAME = "placeholder-agent" })
        content {
          name  = env.key
          value = env.value
        }
      }
      env {
        name        = local.token_env_name
        secret_name = local.secret_name
      }
    }
  }

  tags = var.tags
}
