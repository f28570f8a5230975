# `terraform test` of the module's provider-free logic, its input validations: run against the
# module's variables.tf alone (tests/infra/test_module_validations.py builds that stand-in), so it
# needs no provider and runs offline. Each run gives one wrong input and expects its validation.

variables {
  name                      = "log-fcst-example-weu"
  application_insights_name = "appi-fcst-example-weu"
  location                  = "westeurope"
  resource_group_name       = "rg-fcst-example-weu"
  tags = {
    environment         = "dev"
    owner               = "platform-team"
    cost_centre         = "cc-1234"
    data_classification = "internal"
  }
}

run "the_example_values_pass" {
  command = plan
}

run "retention_below_log_analytics_30_days_is_refused" {
  command = plan
  variables {
    retention_in_days = 7
  }
  expect_failures = [var.retention_in_days]
}

run "an_alert_receiver_that_is_not_an_address_is_refused" {
  command = plan
  variables {
    alert_email_receivers = { oncall = "oncall-at-example.com" }
  }
  expect_failures = [var.alert_email_receivers]
}

run "a_severity_outside_0_to_4_is_refused" {
  command = plan
  variables {
    alerts = { enabled = true, mape_threshold = 0.45, stale_after_days = 60, severity = 5 }
  }
  expect_failures = [var.alerts]
}
