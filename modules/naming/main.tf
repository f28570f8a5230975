# The naming convention of the stack (Cloud Adoption Framework abbreviations: rg-, log-, appi-, kv-,
# st, cr, mlw-, adf-, sql-, vnet-), and Azure's rule for each kind of name that has one.
# https://learn.microsoft.com/azure/cloud-adoption-framework/ready/azure-best-practices/resource-abbreviations
# https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
locals {
  base    = "${var.workload}-${var.environment}-${var.location_short}"
  compact = "${var.workload}${var.environment}${var.location_short}${var.name_suffix}"

  names = {
    resource_group       = "rg-${local.base}"
    log_analytics        = "log-${local.base}"
    application_insights = "appi-${local.base}"
    key_vault            = "kv-${local.base}-${var.name_suffix}"
    data_lake            = "stdl${local.compact}"
    aml_storage          = "stml${local.compact}"
    container_registry   = "cr${local.compact}"
    aml_workspace        = "mlw-${local.base}"
    compute_prefix       = "cluster"
    data_factory         = "adf-${local.base}-${var.name_suffix}"
    sql_server           = "sql-${local.base}-${var.name_suffix}"
    vnet                 = "vnet-${local.base}"
    powerbi              = "pbi-${local.base}"
    training_endpoint    = "${var.workload}-${var.environment}-train-${var.name_suffix}"
    scoring_endpoint     = "${var.workload}-${var.environment}-score-${var.name_suffix}"
    # The user-assigned identity the AML jobs run as (CAF abbreviation id-).
    job_identity = "id-${local.base}-jobs"
  }

  # Azure's rule for each kind of name, with the message a reader needs when one is broken.
  rules = {
    key_vault          = { pattern = "^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", rule = "Key Vault: 3-24 letters, digits, hyphens" }
    data_lake          = { pattern = "^[a-z0-9]{3,24}$", rule = "storage account: 3-24 lowercase letters and digits" }
    aml_storage        = { pattern = "^[a-z0-9]{3,24}$", rule = "storage account: 3-24 lowercase letters and digits" }
    container_registry = { pattern = "^[a-zA-Z0-9]{5,50}$", rule = "container registry: 5-50 letters and digits" }
    aml_workspace      = { pattern = "^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$", rule = "AML workspace: 3-33 letters, digits, hyphens, underscores" }
    data_factory       = { pattern = "^[a-zA-Z0-9][a-zA-Z0-9-]{1,61}[a-zA-Z0-9]$", rule = "Data Factory: 3-63 letters, digits, hyphens" }
    sql_server         = { pattern = "^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$", rule = "SQL server: 2-63 lowercase letters, digits, hyphens" }
    training_endpoint  = { pattern = "^[a-zA-Z][a-zA-Z0-9-]{2,31}$", rule = "AML endpoint: 3-32 letters, digits, hyphens, starting with a letter" }
    scoring_endpoint   = { pattern = "^[a-zA-Z][a-zA-Z0-9-]{2,31}$", rule = "AML endpoint: 3-32 letters, digits, hyphens, starting with a letter" }
    # https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftmanagedidentity
    job_identity = { pattern = "^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$", rule = "user-assigned identity: 3-128 letters, digits, hyphens, underscores, starting with a letter or digit" }
  }

  violations = [
    for key, rule in local.rules : "${key} name \"${local.names[key]}\" breaks the ${rule.rule} rule"
    if !can(regex(rule.pattern, local.names[key]))
  ]
}
