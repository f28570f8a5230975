# Alert rules on log queries: ADF writes pipeline runs to Log Analytics (diagnostic settings); the
# model's steps write OpenTelemetry metrics to App Insights (src/model/demand_forecast/telemetry.py),
# which land in `customMetrics` under the instrument's name, attributes in `customDimensions`
# (https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-add-modify?tabs=python#add-custom-metrics).
#
# Azure validates a log alert's query when the rule is created. A resource-specific table such as
# ADFPipelineRun exists only once the diagnostic setting has delivered its first record, so on a
# fresh Log Analytics workspace the rule fails (SEM0100: failed to resolve table). Rules reading
# such a table skip that validation (`skip_query_validation`); the query is checked offline by
# CKV_FS_6 and fires once data arrives.
# https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-troubleshoot-log#query-validation-failed
# https://learn.microsoft.com/rest/api/monitor/scheduled-query-rules/create-or-update (skipQueryValidation)
locals {
  # The OpenTelemetry metric each metric alert reads; tests/model/test_telemetry.py checks that the
  # steps emit every one of them and that each rule's customMetrics query reads exactly its metric.
  alert_metrics = {
    model-mape-high = "model_mape"
    model-stale     = "model_age_days"
    step-failed     = "step_runs"
  }
  # The model rules read only the production model's metrics: a release's validation run registers
  # and monitors its own model (stackctl/aml/model_validation.py) in the same App Insights, and must
  # not page on-call (review-aml finding 3). `registered_model` is the attribute the monitor step
  # gives every model-health metric (demand_forecast/telemetry.py record_monitoring).
  # Rules on the App Insights custom metrics: customMetrics is part of every Application Insights
  # resource's schema from creation, so Azure can validate these queries at once.
  alert_rules = {
    for key, rule in {
      model-mape-high = {
        description = "A segment model's recent MAPE is above ${var.alerts.mape_threshold}."
        query       = "customMetrics | where name == \"model_mape\" | where tostring(customDimensions.registered_model) == \"${var.alerts.model_name}\" | where value > ${var.alerts.mape_threshold}"
      }
      model-stale = {
        description = "A model in use was trained more than ${var.alerts.stale_after_days} days ago."
        query       = "customMetrics | where name == \"model_age_days\" | where tostring(customDimensions.registered_model) == \"${var.alerts.model_name}\" | where value > ${var.alerts.stale_after_days}"
      }
      step-failed = {
        description = "A pipeline step failed or rejected its input."
        query       = "customMetrics | where name == \"step_runs\" | where tostring(customDimensions.outcome) != \"succeeded\""
      }
    } : key => rule if var.alerts.enabled
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "this" {
  for_each = local.alert_rules

  name                 = "alert-${var.name}-${each.key}"
  location             = var.location
  resource_group_name  = var.resource_group_name
  description          = each.value.description
  scopes               = [azurerm_application_insights.this.id]
  severity             = var.alerts.severity
  evaluation_frequency = "PT1H"
  window_duration      = "PT1H"
  tags                 = var.tags

  criteria {
    query                   = each.value.query
    time_aggregation_method = "Count"
    operator                = "GreaterThan"
    threshold               = 0
  }

  action {
    action_groups = [azurerm_monitor_action_group.this.id]
  }
}

# A failed Data Factory pipeline run. ADFPipelineRun is a resource-specific table that the
# factory's diagnostic setting (Dedicated destination) creates with its first record, so Azure
# cannot resolve it when this rule is created in the same apply as the workspace (SEM0100).
# Its own resource with a literal query, so that CKV_FS_6 can read it.
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "pipeline_failed" {
  count = var.alerts.enabled ? 1 : 0

  name                  = "alert-${var.name}-pipeline-failed"
  location              = var.location
  resource_group_name   = var.resource_group_name
  description           = "A Data Factory pipeline run failed."
  scopes                = [azurerm_log_analytics_workspace.this.id]
  severity              = var.alerts.severity
  evaluation_frequency  = "PT1H"
  window_duration       = "PT1H"
  skip_query_validation = true
  tags                  = var.tags

  criteria {
    query                   = "ADFPipelineRun | where Status == \"Failed\""
    time_aggregation_method = "Count"
    operator                = "GreaterThan"
    threshold               = 0
  }

  action {
    action_groups = [azurerm_monitor_action_group.this.id]
  }
}
