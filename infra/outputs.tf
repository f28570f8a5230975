# The one contract with `stackctl deploy` (see src/stackctl/aml): names, ids and endpoints only.
# Nothing here is a secret, a key or a connection string with a key in it.
output "stack" {
  description = "Everything stackctl deploy needs about this stack, read from `terraform output -json`."
  # Deploy starts from this output; it is final only once new role assignments have taken effect.
  depends_on = [time_sleep.role_propagation]

  # nccl runs one process per GPU: more training processes per node than the GPU size has GPUs fail
  # at the first collective. Judged at plan (the node table is known then); the publisher checks the
  # same (stackctl/aml/specs.py `distributed_run`).
  # https://learn.microsoft.com/azure/machine-learning/how-to-train-distributed-gpu
  precondition {
    condition     = var.aml.train_compute != "gpu" || var.aml.train_processes_per_instance <= module.aml_compute.nodes["gpu"].gpus
    error_message = "aml.train_processes_per_instance exceeds the GPUs of one aml.gpu_vm_size node (module aml_compute local.vm_sizes): run one process per GPU, or train on a size with more GPUs."
  }
  value = {
    environment         = var.environment
    location            = var.location
    subscription_id     = data.azurerm_client_config.current.subscription_id
    tenant_id           = data.azurerm_client_config.current.tenant_id
    resource_group_name = data.azurerm_resource_group.this.name
    aml = {
      workspace_name   = module.aml_workspace.name
      workspace_id     = module.aml_workspace.resource_id
      principal_id     = module.aml_workspace.principal_id
      gpu_cluster_name = module.aml_compute.cluster_names["gpu"]
      cpu_cluster_name = module.aml_compute.cluster_names["cpu"]
      # The jobs' identity (publish writes the reporting tables as it; deploy makes it a SQL user):
      # the user-assigned identity both job clusters run as (kept under its old key).
      cpu_cluster_principal_id = azurerm_user_assigned_identity.jobs.principal_id
      datastores               = local.datastore_names
      # AzureBlob datastores on the conditioned and scored file systems: what AML writes to (the
      # scoring deployment's default_datastore; batch endpoints write only to Blob datastores).
      output_datastores = local.output_datastore_names
      # What one node of each job cluster holds (vm_size, vcpus, gpus) and its max_node_count:
      # the publisher sizes the distributed steps against it (stackctl/aml/specs.py).
      clusters = { for key in ["gpu", "cpu"] : key => module.aml_compute.nodes[key] }
      # The distributed steps (variables.tf `aml.train_*`): the cluster, the nodes one job uses (AML
      # `resources.instance_count`) and the torch.distributed processes per node (AML PyTorch
      # distribution `process_count_per_instance`).
      distributed = {
        train = {
          compute                    = var.aml.train_compute
          instance_count             = var.aml.train_instance_count
          process_count_per_instance = var.aml.train_processes_per_instance
        }
        # One node: rank 0 merges the parts the other ranks write into its output folder.
        score = {
          compute                    = "cpu"
          instance_count             = 1
          process_count_per_instance = var.aml.score_processes_per_instance
        }
      }
    }
    data_lake = {
      account_name = module.data_lake.name
      dfs_endpoint = module.data_lake.dfs_endpoint
      file_systems = module.data_lake.file_systems
    }
    # The identity every AML job runs as (main.identity.tf): the default identity of the gpu and cpu
    # clusters; jobs find its client id in DEFAULT_IDENTITY_CLIENT_ID, SQL knows it as the `job` user.
    job_identity = {
      client_id    = azurerm_user_assigned_identity.jobs.client_id
      principal_id = azurerm_user_assigned_identity.jobs.principal_id
      id           = azurerm_user_assigned_identity.jobs.id
      # Its name is its SQL contained user's name (modules/sql contained_user_principals.job).
      name = azurerm_user_assigned_identity.jobs.name
    }
    endpoints = local.endpoints
    data_factory = {
      name          = module.data_factory.name
      principal_id  = module.data_factory.principal_id
      pipeline_name = module.data_factory.pipeline_name
    }
    sql = {
      server_name      = module.sql.server_name
      server_fqdn      = module.sql.server_fqdn
      database_name    = module.sql.database_name
      reporting_schema = module.sql.reporting_schema
      aad_principals   = module.sql.contained_user_principals
      # SID source and TYPE of each contained user (no Directory Readers role needed).
      aad_principal_sids = module.sql.contained_user_sids
    }
    powerbi = {
      server   = module.powerbi_sources.server
      database = module.powerbi_sources.database
      schema   = module.powerbi_sources.schema
      views    = module.powerbi_sources.views
      # Read-only on the views: deploy creates its contained user by object id.
      entra_group           = module.powerbi_sources.entra_group
      entra_group_object_id = var.powerbi.group_object_id
    }
    monitoring = {
      log_analytics_workspace_id = module.monitoring.resource_id
      application_insights_name  = module.monitoring.application_insights_name
    }
    schedules = {
      time_zone     = var.schedules.time_zone
      training_cron = var.schedules.training_cron
      scoring_cron  = var.schedules.scoring_cron
      # One weekly trigger per stack: where Data Factory's trigger runs (it lands fresh data first),
      # the AML schedules exist but stay disabled, so nothing trains twice a week.
      aml_schedules_enabled = !var.schedules.adf_trigger_active
    }
  }
}

# Outside `stack` because Terraform requires an output holding a sensitive attribute to be sensitive
# (the provider marks connection_string so), and `stack` must stay readable. The connection string
# is not a secret: "ikey unique identifiers aren't security tokens or security keys, and aren't
# considered secrets"; App Insights has local authentication off, so only identities holding
# Monitoring Metrics Publisher (main.rbac.tf) can send to it. stackctl deploy sets it as the jobs'
# APPLICATIONINSIGHTS_CONNECTION_STRING (`terraform output -json` prints sensitive values).
# https://learn.microsoft.com/azure/azure-monitor/app/connection-strings
output "application_insights_connection_string" {
  description = "Connection string of the stack's Application Insights, for the jobs' APPLICATIONINSIGHTS_CONNECTION_STRING (not a secret; sensitive only because the provider marks it)."
  value       = module.monitoring.application_insights_connection_string
  sensitive   = true
}
