# `terraform test` of the module's provider-free logic, its input validations: run against the
# module's variables.tf alone (tests/infra/test_module_validations.py builds that stand-in), so it
# needs no provider and runs offline. Each run gives one wrong input and expects its validation.

variables {
  name                = "kv-fcst-example-x01"
  location            = "westeurope"
  resource_group_name = "rg-fcst-example-weu"
  tenant_id           = "00000000-0000-0000-0000-0000000000aa"
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

run "a_name_longer_than_24_characters_is_refused" {
  command = plan
  variables {
    name = "kv-fcst-example-much-too-long"
  }
  expect_failures = [var.name]
}

run "a_tenant_that_is_not_a_guid_is_refused" {
  command = plan
  variables {
    tenant_id = "contoso.onmicrosoft.com"
  }
  expect_failures = [var.tenant_id]
}

run "an_unknown_sku_is_refused" {
  command = plan
  variables {
    sku_name = "Standard"
  }
  expect_failures = [var.sku_name]
}

run "soft_delete_beyond_azures_90_days_is_refused" {
  command = plan
  variables {
    soft_delete_retention_days = 120
  }
  expect_failures = [var.soft_delete_retention_days]
}
