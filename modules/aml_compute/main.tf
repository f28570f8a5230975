# VM sizes the stack may use, with the quota each draws on: Dedicated nodes count against the
# family's vCPU quota, LowPriority nodes against the region's low-priority vCPU quota. CKV_FS_8
# keeps this table and the policy's in step.
# https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#azure-machine-learning-compute
# `gpus` per node: a distributed job on a GPU cluster runs one nccl process per GPU, so
# process_count_per_instance may not exceed it (stackctl/aml/specs.py `distributed_run` reads it from
# the `nodes` output). NCasT4_v3: 1 T4 in the 4- and 8-vCPU sizes; NC A100 v4: 1 A100 per 24 vCPUs.
# https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/ncast4v3-series
# https://learn.microsoft.com/azure/virtual-machines/sizes/gpu-accelerated/nca100v4-series
locals {
  vm_sizes = {
    Standard_NC4as_T4_v3     = { family = "Standard NCASv3_T4 Family", vcpus = 4, gpus = 1 }
    Standard_NC8as_T4_v3     = { family = "Standard NCASv3_T4 Family", vcpus = 8, gpus = 1 }
    Standard_NC24ads_A100_v4 = { family = "Standard NCADS_A100_v4 Family", vcpus = 24, gpus = 1 }
    Standard_NC48ads_A100_v4 = { family = "Standard NCADS_A100_v4 Family", vcpus = 48, gpus = 2 }
    Standard_DS3_v2          = { family = "Standard DSv2 Family", vcpus = 4, gpus = 0 }
    Standard_DS4_v2          = { family = "Standard DSv2 Family", vcpus = 8, gpus = 0 }
    Standard_D4s_v3          = { family = "Standard DSv3 Family", vcpus = 4, gpus = 0 }
  }
}

# Each cluster's identity: its own override, else the module's. AML clusters take one system-assigned
# identity or user-assigned ones, not both; the first user-assigned one is the "default identity"
# AML uses for mounts, the registry and datastores, and jobs find its client id in
# DEFAULT_IDENTITY_CLIENT_ID.
# https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#compute-cluster
locals {
  identities = { for key, cluster in var.clusters : key => cluster.managed_identities != null ? cluster.managed_identities : var.managed_identities }
}

# Every cluster scales to 0 nodes (min_node_count is not a variable on purpose): idle GPUs cost.
resource "azurerm_machine_learning_compute_cluster" "this" {
  for_each = var.clusters

  name                          = "${var.name}-${each.key}"
  location                      = var.location
  machine_learning_workspace_id = var.machine_learning_workspace_id
  vm_size                       = each.value.vm_size
  vm_priority                   = each.value.vm_priority
  description                   = each.value.description
  node_public_ip_enabled        = var.node_public_ip_enabled
  subnet_resource_id            = var.subnet_resource_id
  local_auth_enabled            = false
  ssh_public_access_enabled     = false
  tags                          = var.tags

  scale_settings {
    min_node_count                       = 0
    max_node_count                       = each.value.max_node_count
    scale_down_nodes_after_idle_duration = each.value.idle_before_scale_down
  }

  # One kind per cluster (AML takes a system-assigned identity or user-assigned ones, not both):
  # the job clusters run as the user-assigned job identity (infra/main.rbac.tf holds its roles).
  identity {
    type         = length(local.identities[each.key].user_assigned_resource_ids) > 0 ? "UserAssigned" : "SystemAssigned"
    identity_ids = length(local.identities[each.key].user_assigned_resource_ids) > 0 ? local.identities[each.key].user_assigned_resource_ids : null
  }
}
