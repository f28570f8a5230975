# The naming convention lives in modules/naming (provider-free, tested with `terraform test`);
# infra/ keeps `local.names` so every reference to a name reads as before. The module's output
# refuses a name that breaks Azure's rule for its kind (a precondition), and the resource group's
# precondition (main.tf) repeats the list, so a bad combination of workload, environment, region
# and suffix fails at plan time with the rule it breaks.
module "naming" {
  source = "../modules/naming"

  environment    = var.environment
  location_short = var.location_short
  name_suffix    = var.name_suffix
  workload       = var.workload
}

locals {
  names             = module.naming.names
  naming_violations = module.naming.violations

  tags = merge(var.tags, { environment = var.environment, managed_by = "terraform", workload = var.workload })
}
