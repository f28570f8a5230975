output "cluster_names" {
  value       = { for key, cluster in azurerm_machine_learning_compute_cluster.this : key => cluster.name }
  description = "Cluster names by purpose (gpu, cpu)."
}

output "cluster_ids" {
  value       = { for key, cluster in azurerm_machine_learning_compute_cluster.this : key => cluster.id }
  description = "Cluster ARM ids by purpose."
}

output "principal_ids" {
  value       = { for key, cluster in azurerm_machine_learning_compute_cluster.this : key => cluster.identity[0].principal_id }
  description = "Object ids of the clusters' system-assigned identities, for RBAC on the lake."
}
