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

# Binary datasets: the pipeline moves the week's files as they are (bytes, names and folders), never
# parses them. The five input tables have different columns, and the model's own data contract
# (src/model/README.md) accepts compressed files, parquet, other separators and UTF-16; a
# DelimitedText copy would read them as one CSV schema and rewrite them (review-22 N4;
# https://learn.microsoft.com/azure/data-factory/connector-troubleshoot-delimited-text,
# DelimitedTextMoreColumnsThanDefined: "files under the specified folder might have different schemas").
# "When using Binary dataset in copy activity, you can only copy from Binary dataset to Binary
# dataset"; Get Metadata and Delete accept it too
# (https://learn.microsoft.com/azure/data-factory/format-binary). The local stack's copy is the same
# byte copy (stackctl/local/layout.py; tests/infra/test_adf_pipeline.py checks both).
#
# A custom dataset of type Binary, not azurerm_data_factory_dataset_binary: that resource offers
# only Blob, HTTP and SFTP locations (no azure_blob_fs_location: tests/infra/azurerm_schema.json,
# azurerm 5.10.0), and the lake is reached through its ADLS Gen2 linked service and the factory's
# `lake-dfs` managed private endpoint. The location is ADLS Gen2's own dataset location
# (https://learn.microsoft.com/azure/data-factory/connector-azure-data-lake-storage#dataset-properties:
# type AzureBlobFSLocation, fileSystem, folderPath).
resource "azurerm_data_factory_custom_dataset" "lake" {
  for_each = toset(["raw", "conditioned"])

  # Not the DelimitedText datasets' names (ds_raw, ds_conditioned): `type` forces a new dataset, and
  # the factory refuses both a create under an existing name and the delete of a dataset its
  # pipeline references, so an applied stack moves by creating these, pointing the pipeline at them,
  # then deleting the old ones (infra/README.md, "A stack applied before the datasets became Binary").
  name            = "ds_${each.key}_binary"
  data_factory_id = azurerm_data_factory.this.id
  type            = "Binary"

  linked_service {
    name = azurerm_data_factory_linked_service_data_lake_storage_gen2.lake.name
  }

  type_properties_json = jsonencode({
    location = { type = "AzureBlobFSLocation", fileSystem = each.key, folderPath = "weekly" }
  })
}

locals {
  # Batch endpoint jobs run for minutes to hours: the pipeline starts each with a Web activity
  # (token for https://ml.azure.com from the factory's identity), then polls the job through ARM
  # until it reaches a terminal state, so scoring never starts before training finished.
  # The endpoint's invoke response is the created job resource; its `name` is the job's id in ARM.
  #
  # As in Microsoft's template for running batch endpoints from Data Factory, the job's status is
  # kept in a pipeline variable set inside the Until loop (Set Variable): activities after the loop
  # read the variable, never an activity inside the loop. Every Web activity runs on the
  # managed-VNet integration runtime, so it reaches the batch endpoint through the workspace's
  # managed private endpoint: `connectVia` is a *type property* of WebActivity, inside
  # typeProperties; at the activity's top level azurerm's typed model (go-azure-sdk
  # datafactory/2018-06-01/pipelines model_webactivity.go) has no such field and drops it
  # (issue 22 item 3; tests/infra/test_adf_pipeline.py checks every activity against that model). The invoke POST is not idempotent (each call starts a
  # job), so it never retries; the GET polls may. (CKV_FS_11)
  # https://learn.microsoft.com/azure/machine-learning/how-to-use-batch-azure-data-factory
  # https://learn.microsoft.com/azure/data-factory/control-flow-web-activity#type-properties (connectVia)
  arm_job_url = "https://management.azure.com${var.aml.workspace_id}/jobs/@{activity('%s').output.name}?api-version=2024-04-01"
  # Jobs - Cancel (https://learn.microsoft.com/rest/api/azureml/jobs/cancel).
  arm_cancel_url = "https://management.azure.com${var.aml.workspace_id}/jobs/@{activity('%s').output.name}/cancel?api-version=2024-04-01"
  # The ARM JobStatus values under which a job may still finish (azure-ai-ml's
  # arm_ml_service JobStatus; https://learn.microsoft.com/rest/api/azureml/jobs/get#jobstatus): the
  # wait loop polls while the status is one of these and ends on every other one (Completed,
  # Failed, Canceled, Paused, Unknown, and any status a later API adds). NotResponding is here: AML
  # says a run may return from it to any earlier state; the loop's timeout ends a job stuck in it.
  job_active_statuses = ["NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running", "Finalizing", "CancelRequested", "NotResponding"]
  job_active_array    = join(",", [for status in local.job_active_statuses : "'${status}'"])
  connect_via = {
    for key, runtime in { connectVia = { referenceName = one(azurerm_data_factory_integration_runtime_azure.this[*].name), type = "IntegrationRuntimeReference" } } :
    key => runtime if var.managed_virtual_network_enabled
  }
  status_variables = { for step in keys(local.endpoint_steps) : "status_${step}" => "NotStarted" }

  # The scoring pipeline's outputs (stackctl.graph.SCORING.outputs, by name) and the lake file
  # system each belongs in; tests/stackctl/test_aml_specs.py checks both against the graph. ADF names
  # every output in the invoke body (OutputData), as Microsoft's REST example does
  # (https://github.com/Azure/azureml-examples/blob/main/cli/batch-score-rest.sh,
  # https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs), so
  # forecasts and monitoring land in the lake's `scored` file system under a run-dated folder
  # (trigger date, then the ADF run id) instead of the workspace's default store. ADF evaluates
  # `@{...}` inside every string of an activity's JSON
  # (https://learn.microsoft.com/azure/data-factory/control-flow-expression-language-functions#expressions).
  scoring_outputs = { conditioned = "conditioned", scored = "scored", monitoring = "scored" }
  run_folder      = "@{formatDateTime(pipeline().TriggerTime, 'yyyy-MM-dd')}/@{pipeline().RunId}"
  input_data      = { raw_data = { JobInputType = "UriFolder", Uri = var.aml.input_data_uri } }

  # Pipeline parameters: the weekly trigger runs with these defaults; release validation
  # (stackctl.aml.validation) starts a run with its own registered model name and the `validation`
  # reporting schema, so a release never promotes the production champion nor writes the tables
  # Power BI reads (issue 22 item 8), and the factory's identity, not the CI identity, invokes the
  # endpoints (batch jobs read and write data as their invoker, issue 22 item 7:
  # https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs).
  # The defaults are what `stackctl deploy` sets as the deployments' defaults (stackctl.graph
  # MODEL_NAME, specs.stack_defaults); tests/stackctl/test_model_validation.py checks both.
  # Literal inputs of a batch pipeline deployment: {"JobInputType": "Literal", "Value": ...}
  # (how-to-access-data-batch-endpoints-jobs, "Explore literal inputs").
  pipeline_parameters = {
    registered_model   = "demand-forecast"
    reporting_database = "mssql://${var.sql.server_fqdn}/${var.sql.database_name}"
  }
  literal_inputs = {
    reporting_database = { JobInputType = "Literal", Value = "@{pipeline().parameters.reporting_database}" }
  }
  champion_input = { JobInputType = "Literal", Value = "models:/@{pipeline().parameters.registered_model}/Production" }
  # Batch endpoint invoke API: each pipeline input (and output) by name; raw_data is the week's
  # snapshot the copy step just wrote (stackctl.graph names the input). Training's outputs stay
  # in the workspace's store (models and metrics reach MLflow and the reporting database).
  invoke_properties = {
    training = {
      InputData = merge(local.input_data, local.literal_inputs, {
        registered_model = { JobInputType = "Literal", Value = "@{pipeline().parameters.registered_model}" }
        champion         = local.champion_input
      })
    }
    scoring = {
      InputData = merge(local.input_data, local.literal_inputs, { model = local.champion_input })
      OutputData = {
        for name, fs in local.scoring_outputs : name => {
          JobOutputType = "UriFolder"
          Uri           = "azureml://datastores/${var.aml.datastores[fs]}/paths/scoring/${local.run_folder}/${name}/"
        }
      }
    }
  }
  endpoint_steps = {
    training = var.aml.training_invoke_uri
    scoring  = var.aml.scoring_invoke_uri
  }
  # POST .../jobs/{name}/cancel (the factory holds AzureML Data Scientist on the workspace, which
  # allows workspaces/jobs/cancel/action). Never retried: a cancel either lands or the job is over.
  cancel_activity = {
    for step in keys(local.endpoint_steps) : step => {
      name   = "cancel_${step}"
      type   = "WebActivity"
      policy = { timeout = "0.00:05:00", retry = 0, retryIntervalInSeconds = 30 }
      typeProperties = merge({
        url            = format(local.arm_cancel_url, "invoke_${step}")
        method         = "POST"
        body           = {}
        authentication = { type = "MSI", resource = "https://management.azure.com/" }
      }, local.connect_via)
    }
  }
  endpoint_activities = flatten([
    for step, uri in local.endpoint_steps : [
      {
        name      = "invoke_${step}"
        type      = "WebActivity"
        dependsOn = [{ activity = step == "training" ? "check_input_copied" : "check_training", dependencyConditions = ["Succeeded"] }]
        # retry 0: a retried POST would start a second job.
        policy = { timeout = "0.00:10:00", retry = 0, retryIntervalInSeconds = 30 }
        typeProperties = merge({
          url            = uri
          method         = "POST"
          headers        = { "Content-Type" = "application/json" }
          body           = { properties = local.invoke_properties[step] }
          authentication = { type = "MSI", resource = "https://ml.azure.com" }
        }, local.connect_via)
      },
      {
        name      = "wait_${step}"
        type      = "Until"
        dependsOn = [{ activity = "invoke_${step}", dependencyConditions = ["Succeeded"] }]
        typeProperties = {
          expression = { type = "Expression", value = "@not(contains(createArray(${local.job_active_array}), variables('status_${step}')))" }
          timeout    = "0.06:00:00"
          activities = [
            { name = "pause_${step}", type = "Wait", typeProperties = { waitTimeInSeconds = 60 } },
            {
              name      = "poll_${step}"
              type      = "WebActivity"
              dependsOn = [{ activity = "pause_${step}", dependencyConditions = ["Succeeded"] }]
              policy    = { timeout = "0.00:05:00", retry = 2, retryIntervalInSeconds = 30 }
              typeProperties = merge({
                url            = format(local.arm_job_url, "invoke_${step}")
                method         = "GET"
                authentication = { type = "MSI", resource = "https://management.azure.com/" }
              }, local.connect_via)
            },
            {
              name           = "set_status_${step}"
              type           = "SetVariable"
              dependsOn      = [{ activity = "poll_${step}", dependencyConditions = ["Succeeded"] }]
              typeProperties = { variableName = "status_${step}", value = "@activity('poll_${step}').output.properties.status" }
            },
          ]
        }
      },
      {
        # A job that ends in any status but Completed fails the pipeline run, which the
        # pipeline-failed alert (modules/monitoring) picks up; scoring never runs on a failed
        # training. A job that is not already over (Paused, Unknown) is cancelled first, so it
        # cannot register or promote a model later; the Fail runs whether the cancel worked or not.
        name      = "check_${step}"
        type      = "IfCondition"
        dependsOn = [{ activity = "wait_${step}", dependencyConditions = ["Succeeded"] }]
        typeProperties = {
          expression = { type = "Expression", value = "@not(equals(variables('status_${step}'), 'Completed'))" }
          ifTrueActivities = [
            local.cancel_activity[step],
            {
              name      = "fail_${step}"
              type      = "Fail"
              dependsOn = [{ activity = "cancel_${step}", dependencyConditions = ["Completed"] }]
              typeProperties = {
                message   = "@concat('AML ${step} job ', activity('invoke_${step}').output.name, ' ended ', variables('status_${step}'))"
                errorCode = "AmlJobNotCompleted"
              }
            },
          ]
        }
      },
      # The loop timed out (6 h) or its polls kept failing: the job may still be running and could
      # register or promote a model later, so cancel it, then fail the run. A cancel of the whole
      # factory run ends the loop Cancelled, not Failed, so this branch does not run then: whoever
      # cancels a run cancels its AML jobs too (stackctl.aml.model_validation.cancel_started_jobs). The Fail is needed:
      # an activity on a Failed dependency makes ADF treat the failure as handled, and the run
      # would otherwise report Succeeded
      # (https://learn.microsoft.com/azure/data-factory/tutorial-pipeline-failure-error-handling).
      merge(local.cancel_activity[step], {
        name      = "cancel_${step}_after_wait"
        dependsOn = [{ activity = "wait_${step}", dependencyConditions = ["Failed"] }]
      }),
      {
        name      = "fail_${step}_wait"
        type      = "Fail"
        dependsOn = [{ activity = "cancel_${step}_after_wait", dependencyConditions = ["Completed"] }]
        typeProperties = {
          message   = "@concat('AML ${step} job ', activity('invoke_${step}').output.name, ' did not finish within the wait; cancelled')"
          errorCode = "AmlJobTimedOut"
        }
      },
    ]
  ])
}

resource "azurerm_data_factory_pipeline" "weekly" {
  name            = var.pipeline_name
  data_factory_id = azurerm_data_factory.this.id
  description     = "Weekly: copy raw -> conditioned, run the training batch endpoint, then the scoring one."
  # The batch jobs' last polled status, set inside each Until loop and read after it.
  variables  = local.status_variables
  parameters = local.pipeline_parameters
  # One run at a time: a release's validation run and the weekly trigger share conditioned/weekly,
  # and each run empties it first, so overlapping runs would delete each other's snapshot
  # (review-aml finding 5). Data Factory queues a run beyond the limit rather than starting it
  # ("properties.concurrency: the max number of concurrent runs for the pipeline", minimum 1,
  # https://learn.microsoft.com/rest/api/datafactory/pipelines/create-or-update; azurerm argument
  # `concurrency`, tests/infra/azurerm_schema.json).
  concurrency = 1

  # The activities are written out here (not in a local) so that checkov's CKV_FS_11 reads them
  # in every scan; tests/infra/test_adf_pipeline.py evaluates this expression with Terraform.
  # The week's snapshot replaces last week's: the copy overwrites files by name and deletes
  # nothing, so an optional table (promotions, weather, events) that stops arriving would be read
  # again from last week's copy. conditioned/weekly is emptied first (Delete activity,
  # https://learn.microsoft.com/azure/data-factory/delete-activity). On the first run the folder
  # does not exist yet and a Delete of a missing path fails the run, so the Delete runs only when
  # Get Metadata reports the folder exists: with `exists` in its fieldList Get Metadata does not
  # fail on a missing folder, it returns exists = false
  # (https://learn.microsoft.com/azure/data-factory/control-flow-get-metadata-activity#metadata-options).
  # If Condition: https://learn.microsoft.com/azure/data-factory/control-flow-if-condition-activity
  # (tests/infra/test_adf_pipeline.py: every nested activity is checked against the SDK's models).
  activities_json = jsonencode(concat([
    {
      name   = "conditioned_exists"
      type   = "GetMetadata"
      policy = { timeout = "0.00:10:00", retry = 1, retryIntervalInSeconds = 60 }
      typeProperties = {
        dataset       = { referenceName = azurerm_data_factory_custom_dataset.lake["conditioned"].name, type = "DatasetReference" }
        fieldList     = ["exists"]
        storeSettings = { type = "AzureBlobFSReadSettings", recursive = true }
      }
    },
    {
      name      = "clear_conditioned_if_exists"
      type      = "IfCondition"
      dependsOn = [{ activity = "conditioned_exists", dependencyConditions = ["Succeeded"] }]
      typeProperties = {
        expression = { value = "@activity('conditioned_exists').output.exists", type = "Expression" }
        ifTrueActivities = [
          {
            name   = "clear_conditioned"
            type   = "Delete"
            policy = { timeout = "0.00:30:00", retry = 1, retryIntervalInSeconds = 60 }
            typeProperties = {
              dataset       = { referenceName = azurerm_data_factory_custom_dataset.lake["conditioned"].name, type = "DatasetReference" }
              recursive     = true
              enableLogging = false
              storeSettings = { type = "AzureBlobFSReadSettings", recursive = true }
            }
          },
        ]
      }
    },
    {
      # The week's input must be there before anything is cleared or invoked: a fresh stack's raw
      # file system has no weekly folder, and a Copy from a missing folder fails with a storage
      # error that does not say what to do (review-23 B6). Get Metadata with `exists` returns false
      # for a missing folder instead of failing (control-flow-get-metadata-activity#metadata-options).
      name   = "raw_exists"
      type   = "GetMetadata"
      policy = { timeout = "0.00:10:00", retry = 1, retryIntervalInSeconds = 60 }
      typeProperties = {
        dataset       = { referenceName = azurerm_data_factory_custom_dataset.lake["raw"].name, type = "DatasetReference" }
        fieldList     = ["exists"]
        storeSettings = { type = "AzureBlobFSReadSettings", recursive = true }
      }
    },
    {
      name      = "check_raw_exists"
      type      = "IfCondition"
      dependsOn = [{ activity = "raw_exists", dependencyConditions = ["Succeeded"] }]
      typeProperties = {
        expression = { value = "@not(activity('raw_exists').output.exists)", type = "Expression" }
        ifTrueActivities = [
          {
            name = "fail_no_raw_folder"
            type = "Fail"
            typeProperties = {
              message   = "the lake has no raw/weekly folder: nothing to train on; upload the week's files (README 'Azure: first deploy', step 9)"
              errorCode = "NoInputData"
            }
          },
        ]
      }
    },
    {
      name = "copy_raw_to_conditioned"
      type = "Copy"
      dependsOn = [
        { activity = "clear_conditioned_if_exists", dependencyConditions = ["Succeeded"] },
        { activity = "check_raw_exists", dependencyConditions = ["Succeeded"] },
      ]
      policy  = { timeout = "0.02:00:00", retry = 1, retryIntervalInSeconds = 120 }
      inputs  = [{ referenceName = azurerm_data_factory_custom_dataset.lake["raw"].name, type = "DatasetReference" }]
      outputs = [{ referenceName = azurerm_data_factory_custom_dataset.lake["conditioned"].name, type = "DatasetReference" }]
      typeProperties = {
        # Binary to Binary, folders kept as they are (format-binary#copy-activity-properties;
        # copyBehavior: connector-azure-data-lake-storage#azure-data-lake-storage-gen2-as-a-sink-type).
        source = { type = "BinarySource", storeSettings = { type = "AzureBlobFSReadSettings", recursive = true } }
        sink   = { type = "BinarySink", storeSettings = { type = "AzureBlobFSWriteSettings", copyBehavior = "PreserveHierarchy" } }
      }
    },
    {
      # An empty raw/weekly (a fresh stack, a feed that did not arrive) copies nothing and succeeds;
      # training would then fail on no rows with a message about the model, not the lake. Fail here,
      # naming the folder (review-23 B6; README 'Azure: first deploy', step 9). `filesWritten` is the
      # Copy activity's output for file-based copies
      # (https://learn.microsoft.com/azure/data-factory/copy-activity-monitoring#monitor-programmatically);
      # a copy that read nothing may leave it out, and a missing property fails the expression unless
      # read with `?.` (ADF expression language: "?." returns null for a missing property,
      # https://learn.microsoft.com/azure/data-factory/control-flow-expression-language-functions).
      name      = "check_input_copied"
      type      = "IfCondition"
      dependsOn = [{ activity = "copy_raw_to_conditioned", dependencyConditions = ["Succeeded"] }]
      typeProperties = {
        expression = { value = "@equals(coalesce(activity('copy_raw_to_conditioned').output?.filesWritten, 0), 0)", type = "Expression" }
        ifTrueActivities = [
          {
            name = "fail_no_input"
            type = "Fail"
            typeProperties = {
              message   = "raw/weekly of the lake held no files: nothing to train on; upload the week's files (README 'Azure: first deploy', step 9)"
              errorCode = "NoInputData"
            }
          },
        ]
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
