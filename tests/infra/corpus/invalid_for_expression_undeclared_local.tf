output "names" {
  value = [for c in local.clusters : c.name]
}
