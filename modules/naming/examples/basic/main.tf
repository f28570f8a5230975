# The naming convention on its own: every resource name of one stack, checked against Azure's rules.
module "naming" {
  source = "../.."

  environment    = "dev"
  location_short = "weu"
  name_suffix    = "x01"
  workload       = "fcst"
}

output "names" {
  value = module.naming.names
}

output "violations" {
  value = module.naming.violations
}
