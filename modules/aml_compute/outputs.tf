output "cluster_names" {
  value       = { for key, cluster in azurerm_machine_learning_compute_cluster.this : key => cluster.name }
  description = "Cluster names by purpose (gpu, cpu)."
}

output "cluster_ids" {
  value       = { for key, cluster in azurerm_machine_learning_compute_cluster.this : key => cluster.id }
  description = "Cluster ARM ids by purpose."
}

output "principal_ids" {
  # Only clusters with a system-assigned identity: a user-assigned one's principal id comes from
  # its own resource, and a cluster running as it has none of its own.
  value       = { for key, cluster in azurerm_machine_learning_compute_cluster.this : key => cluster.identity[0].principal_id if length(local.identities[key].user_assigned_resource_ids) == 0 }
  description = "Object ids of the system-assigned identities of the clusters that have one, by purpose, for their role assignments (clusters running as user-assigned identities are absent)."
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

output "nodes" {
  value = {
    for key, cluster in var.clusters : key => {
      vm_size        = cluster.vm_size
      vcpus          = local.vm_sizes[cluster.vm_size].vcpus
      gpus           = local.vm_sizes[cluster.vm_size].gpus
      max_node_count = cluster.max_node_count
    }
  }
  description = "What one node of each cluster holds and how many nodes the cluster scales to, by cluster: vm_size, vcpus, gpus, max_node_count. The publisher sizes distributed jobs by it (a job's instance_count <= max_node_count, one process per GPU on a GPU cluster)."
}
