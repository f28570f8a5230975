# `terraform test` of the module's provider-free logic, its input validations: run against the
# module's variables.tf alone (tests/infra/test_module_validations.py builds that stand-in), so it
# needs no provider and runs offline. Each run gives one wrong input and expects its validation.

variables {
  name                = "stdlfcstexamplex01"
  location            = "westeurope"
  resource_group_name = "rg-fcst-example-weu"
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

run "a_name_with_capitals_or_dashes_is_refused" {
  command = plan
  variables {
    name = "st-DL-fcst"
  }
  expect_failures = [var.name]
}

run "an_unknown_replication_type_is_refused" {
  command = plan
  variables {
    replication_type = "lrs"
  }
  expect_failures = [var.replication_type]
}

run "raw_files_cannot_be_deleted_before_they_cool" {
  command = plan
  variables {
    raw_lifecycle = { cool_after_days = 90, delete_after_days = 30 }
  }
  expect_failures = [var.raw_lifecycle]
}

run "a_tag_the_organisation_requires_is_missing" {
  command = plan
  variables {
    tags = { environment = "dev" }
  }
  expect_failures = [var.tags]
}
