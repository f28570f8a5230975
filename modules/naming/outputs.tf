output "names" {
  description = "Every resource name of the stack, by role (resource_group, key_vault, data_lake, ...)."
  value       = local.names

  precondition {
    condition     = length(local.violations) == 0
    error_message = "The naming convention produced invalid names: ${join("; ", local.violations)}. Shorten workload, location_short or name_suffix."
  }
}

output "violations" {
  description = "The names that break Azure's rule for their kind, one message each; empty when every name is valid."
  value       = local.violations
}
