# Linked services authenticate with the factory's managed identity; no key, password or SAS.
resource "azurerm_data_factory_linked_service_data_lake_storage_gen2" "lake" {
  name                     = "ls_data_lake"
  data_factory_id          = azurerm_data_factory.this.id
  url                      = var.data_lake.dfs_endpoint
  use_managed_identity     = true
  integration_runtime_name = var.managed_virtual_network_enabled ? azurerm_data_factory_integration_runtime_azure.this[0].name : null
}

resource "azurerm_data_factory_linked_service_azure_sql_database" "reporting" {
  name                     = "ls_reporting_sql"
  data_factory_id          = azurerm_data_factory.this.id
  connection_string        = "Data Source=tcp:${var.sql.server_fqdn},1433;Initial Catalog=${var.sql.database_name};Encrypt=True;Connection Timeout=30"
  use_managed_identity     = true
  integration_runtime_name = var.managed_virtual_network_enabled ? azurerm_data_factory_integration_runtime_azure.this[0].name : null
}

resource "azurerm_data_factory_linked_service_key_vault" "this" {
  name            = "ls_key_vault"
  data_factory_id = azurerm_data_factory.this.id
  key_vault_id    = var.key_vault_id
}

resource "azurerm_data_factory_dataset_delimited_text" "lake" {
  for_each = toset(["raw", "conditioned"])

  name                = "ds_${each.key}"
  data_factory_id     = azurerm_data_factory.this.id
  linked_service_name = azurerm_data_factory_linked_service_data_lake_storage_gen2.lake.name
  column_delimiter    = ","
  first_row_as_header = true

  azure_blob_fs_location {
    file_system = each.key
    path        = "weekly"
  }
}

locals {
  # Batch endpoint jobs run for minutes to hours: the pipeline starts each with a Web activity
  # (token for https://ml.azure.com from the factory's identity), then polls the job through ARM
  # until it reaches a terminal state, so scoring never starts before training finished.
  # The endpoint's invoke response is the created job resource; its `name` is the job's id in ARM.
  arm_job_url = "https://management.azure.com${var.aml.workspace_id}/jobs/@{activity('%s').output.name}?api-version=2024-04-01"
  endpoint_steps = {
    training = var.aml.training_invoke_uri
    scoring  = var.aml.scoring_invoke_uri
  }
  endpoint_activities = flatten([
    for step, uri in local.endpoint_steps : [
      {
        name      = "invoke_${step}"
        type      = "WebActivity"
        dependsOn = [{ activity = step == "training" ? "copy_raw_to_conditioned" : "check_training", dependencyConditions = ["Succeeded"] }]
        policy    = { timeout = "0.00:10:00", retry = 2, retryIntervalInSeconds = 60 }
        typeProperties = {
          url     = uri
          method  = "POST"
          headers = { "Content-Type" = "application/json" }
          # Batch endpoint invoke API: each pipeline input by name; raw_data is the week's snapshot
          # the copy step just wrote (stackctl.aml.graph names the input).
          body           = { properties = { InputData = { raw_data = { JobInputType = "UriFolder", Uri = var.aml.input_data_uri } } } }
          authentication = { type = "MSI", resource = "https://ml.azure.com" }
        }
      },
      {
        name      = "wait_${step}"
        type      = "Until"
        dependsOn = [{ activity = "invoke_${step}", dependencyConditions = ["Succeeded"] }]
        typeProperties = {
          expression = { type = "Expression", value = "@contains(createArray('Completed','Failed','Canceled'), activity('poll_${step}').output.properties.status)" }
          timeout    = "0.06:00:00"
          activities = [
            { name = "pause_${step}", type = "Wait", typeProperties = { waitTimeInSeconds = 60 } },
            {
              name      = "poll_${step}"
              type      = "WebActivity"
              dependsOn = [{ activity = "pause_${step}", dependencyConditions = ["Succeeded"] }]
              typeProperties = {
                url            = format(local.arm_job_url, "invoke_${step}")
                method         = "GET"
                authentication = { type = "MSI", resource = "https://management.azure.com/" }
              }
            },
          ]
        }
      },
      {
        # A job that ends Failed or Canceled fails the pipeline run, which the pipeline-failed
        # alert (modules/monitoring) picks up; scoring never runs on a failed training.
        name      = "check_${step}"
        type      = "IfCondition"
        dependsOn = [{ activity = "wait_${step}", dependencyConditions = ["Succeeded"] }]
        typeProperties = {
          expression = { type = "Expression", value = "@not(equals(activity('poll_${step}').output.properties.status, 'Completed'))" }
          ifTrueActivities = [
            {
              name = "fail_${step}"
              type = "Fail"
              typeProperties = {
                message   = "@concat('AML ${step} job ', activity('invoke_${step}').output.name, ' ended ', activity('poll_${step}').output.properties.status)"
                errorCode = "AmlJobNotCompleted"
              }
            },
          ]
        }
      },
    ]
  ])
}

resource "azurerm_data_factory_pipeline" "weekly" {
  name            = var.pipeline_name
  data_factory_id = azurerm_data_factory.this.id
  description     = "Weekly: copy raw -> conditioned, run the training batch endpoint, then the scoring one."

  activities_json = jsonencode(concat([
    {
      name    = "copy_raw_to_conditioned"
      type    = "Copy"
      policy  = { timeout = "0.02:00:00", retry = 1, retryIntervalInSeconds = 120 }
      inputs  = [{ referenceName = azurerm_data_factory_dataset_delimited_text.lake["raw"].name, type = "DatasetReference" }]
      outputs = [{ referenceName = azurerm_data_factory_dataset_delimited_text.lake["conditioned"].name, type = "DatasetReference" }]
      typeProperties = {
        source = { type = "DelimitedTextSource", storeSettings = { type = "AzureBlobFSReadSettings", recursive = true } }
        sink   = { type = "DelimitedTextSink", storeSettings = { type = "AzureBlobFSWriteSettings" } }
      }
    },
  ], local.endpoint_activities))
}

resource "azurerm_data_factory_trigger_schedule" "weekly" {
  name            = "weekly"
  data_factory_id = azurerm_data_factory.this.id
  pipeline_name   = azurerm_data_factory_pipeline.weekly.name
  activated       = var.schedule.activated
  frequency       = "Week"
  interval        = 1
  time_zone       = var.schedule.time_zone

  schedule {
    days_of_week = var.schedule.days_of_week
    hours        = var.schedule.hours
    minutes      = var.schedule.minutes
  }
}
