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

  identity {
    type         = length(var.managed_identities.user_assigned_resource_ids) > 0 ? "SystemAssigned, UserAssigned" : "SystemAssigned"
    identity_ids = length(var.managed_identities.user_assigned_resource_ids) > 0 ? var.managed_identities.user_assigned_resource_ids : null
  }
}
