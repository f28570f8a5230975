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

output "quota_requests" {
  value = {
    for key, cluster in var.clusters : key => {
      quota = cluster.vm_priority == "LowPriority" ? "Total Regional Low-priority vCPUs" : local.vm_sizes[cluster.vm_size].family
      vcpus = cluster.max_node_count * local.vm_sizes[cluster.vm_size].vcpus
    }
  }
  description = "The vCPU quota each cluster needs at max_node_count, by cluster: the quota name (family or low-priority) and vCPUs; request it before the first job (infra/README.md)."
}
