# `terraform test` of the module's provider-free logic, its input validations: run against the
# module's variables.tf alone (tests/infra/test_module_validations.py builds that stand-in), so it
# needs no provider and runs offline. Each run gives one wrong input and expects its validation.

variables {
  name                = "vnet-fcst-example-weu"
  location            = "westeurope"
  resource_group_name = "rg-fcst-example-weu"
  address_space       = ["10.40.0.0/22"]
  subnets = {
    private_endpoints = { address_prefix = "10.40.0.0/24" }
  }
  private_dns_zones = ["privatelink.blob.core.windows.net"]
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

run "an_empty_or_malformed_address_space_is_refused" {
  command = plan
  variables {
    address_space = ["10.40.0.0/33"]
  }
  expect_failures = [var.address_space]
}

run "a_subnet_prefix_that_is_not_a_cidr_is_refused" {
  command = plan
  variables {
    subnets = { private_endpoints = { address_prefix = "10.40.0.0" } }
  }
  expect_failures = [var.subnets]
}

run "a_public_dns_zone_is_refused" {
  command = plan
  variables {
    private_dns_zones = ["blob.core.windows.net"]
  }
  expect_failures = [var.private_dns_zones]
}
