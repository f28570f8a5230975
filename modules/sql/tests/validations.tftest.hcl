# `terraform test` of the module's provider-free logic, its input validations: run against the
# module's variables.tf alone (tests/infra/test_module_validations.py builds that stand-in), so it
# needs no provider and runs offline. Each run gives one wrong input and expects its validation.

variables {
  name                = "sql-fcst-example-x01"
  location            = "westeurope"
  resource_group_name = "rg-fcst-example-weu"
  entra_administrator = {
    login_username = "sql-admins"
    object_id      = "00000000-0000-0000-0000-000000000001"
  }
  log_analytics_workspace_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/log"
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

run "a_server_name_with_capitals_is_refused" {
  command = plan
  variables {
    name = "SQL-Forecast"
  }
  expect_failures = [var.name]
}

run "an_administrator_named_rather_than_by_object_id_is_refused" {
  command = plan
  variables {
    entra_administrator = { login_username = "sql-admins", object_id = "sql-admins@contoso.com" }
  }
  expect_failures = [var.entra_administrator]
}

run "a_database_sku_azure_does_not_sell_is_refused" {
  command = plan
  variables {
    database_sku = "Standard"
  }
  expect_failures = [var.database_sku]
}

run "a_group_user_without_its_object_id_is_refused" {
  command = plan
  variables {
    contained_user_principals = {
      powerbi = { display_name = "readers", type = "X" }
    }
  }
  expect_failures = [var.contained_user_principals]
}
