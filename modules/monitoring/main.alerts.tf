# Alert rules on log queries: ADF writes pipeline runs to Log Analytics (diagnostic settings); the
# model's steps write OpenTelemetry metrics to App Insights (src/model/demand_forecast/telemetry.py),
# which land in `customMetrics` under the instrument's name, attributes in `customDimensions`
# (https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-add-modify?tabs=python#add-custom-metrics).
locals {
  # The OpenTelemetry metric each metric alert reads; tests/model/test_telemetry.py checks that the
  # steps emit every one of them and that each rule's customMetrics query reads exactly its metric.
  alert_metrics = {
    model-mape-high = "model_mape"
    model-stale     = "model_age_days"
    step-failed     = "step_runs"
  }
  alert_rules = {
    for key, rule in {
      pipeline-failed = {
        description = "A Data Factory pipeline run failed."
        scope       = azurerm_log_analytics_workspace.this.id
        query       = "ADFPipelineRun | where Status == \"Failed\""
      }
      model-mape-high = {
        description = "A segment model's recent MAPE is above ${var.alerts.mape_threshold}."
        scope       = azurerm_application_insights.this.id
        query       = "customMetrics | where name == \"model_mape\" | where value > ${var.alerts.mape_threshold}"
      }
      model-stale = {
        description = "A model in use was trained more than ${var.alerts.stale_after_days} days ago."
        scope       = azurerm_application_insights.this.id
        query       = "customMetrics | where name == \"model_age_days\" | where value > ${var.alerts.stale_after_days}"
      }
      step-failed = {
        description = "A pipeline step failed or rejected its input."
        scope       = azurerm_application_insights.this.id
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
  scopes               = [each.value.scope]
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
