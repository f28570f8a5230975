# `terraform test` of the naming convention; no provider, so it runs offline (`make test` runs it
# through tests/infra/test_naming_module.py). The values are the two stacks' terraform.tfvars.

run "dev_names" {
  command = plan

  variables {
    environment    = "dev"
    location_short = "weu"
    name_suffix    = "d01"
    workload       = "fcst"
  }

  assert {
    condition     = output.names.resource_group == "rg-fcst-dev-weu"
    error_message = "resource group name: ${output.names.resource_group}"
  }
  assert {
    condition     = output.names.data_lake == "stdlfcstdevweud01"
    error_message = "data lake name: ${output.names.data_lake}"
  }
  assert {
    condition     = output.names.key_vault == "kv-fcst-dev-weu-d01"
    error_message = "Key Vault name: ${output.names.key_vault}"
  }
  assert {
    condition     = output.names.training_endpoint == "fcst-dev-train-d01"
    error_message = "training endpoint name: ${output.names.training_endpoint}"
  }
  assert {
    condition     = length(output.violations) == 0
    error_message = "dev names break Azure's rules: ${join("; ", output.violations)}"
  }
}

run "prod_names" {
  command = plan

  variables {
    environment    = "prod"
    location_short = "weu"
    name_suffix    = "p01"
    workload       = "fcst"
  }

  assert {
    condition     = output.names.sql_server == "sql-fcst-prod-weu-p01"
    error_message = "SQL server name: ${output.names.sql_server}"
  }
  assert {
    condition     = output.names.aml_storage == "stmlfcstprodweup01"
    error_message = "AML storage name: ${output.names.aml_storage}"
  }
  assert {
    condition     = length(output.violations) == 0
    error_message = "prod names break Azure's rules: ${join("; ", output.violations)}"
  }
}

# A storage account name has at most 24 characters: "stml" + workload + environment + region +
# suffix is 4 + 6 + 4 + 6 + 5 = 25 here; the Key Vault name (at most 24) is 26; the registry (23)
# still fits.
run "long_names_are_refused_with_the_rule" {
  command = plan

  variables {
    environment    = "prod"
    location_short = "eus2xy"
    name_suffix    = "p0001"
    workload       = "fcstab"
  }

  expect_failures = [output.names]

  assert {
    condition     = contains(output.violations, "aml_storage name \"stmlfcstabprodeus2xyp0001\" breaks the storage account: 3-24 lowercase letters and digits rule")
    error_message = "violations: ${join("; ", output.violations)}"
  }
  assert {
    condition     = contains(output.violations, "key_vault name \"kv-fcstab-prod-eus2xy-p0001\" breaks the Key Vault: 3-24 letters, digits, hyphens rule")
    error_message = "violations: ${join("; ", output.violations)}"
  }
  assert {
    condition     = length(output.violations) == 3
    error_message = "expected the data lake, AML storage and Key Vault names only: ${join("; ", output.violations)}"
  }
}

run "endpoint_name_too_long" {
  command = plan

  variables {
    environment    = "prod"
    location_short = "weu"
    name_suffix    = "p01"
    workload       = "forecastingworkload"
  }

  expect_failures = [output.names]

  assert {
    condition     = contains(output.violations, "training_endpoint name \"forecastingworkload-prod-train-p01\" breaks the AML endpoint: 3-32 letters, digits, hyphens, starting with a letter rule")
    error_message = "violations: ${join("; ", output.violations)}"
  }
}
