# The release pipeline's runner (created by envs/bootstrap with modules/ci_runner) lives in its own
# VNet, made before this stack. Peer the two VNets both ways and link every private DNS zone of the
# stack to the runner's VNet: then plan, apply, deploy and the smoke tests resolve each private
# endpoint to its private IP and reach it, while nothing of the stack is public.
# https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview
# https://learn.microsoft.com/azure/dns/private-dns-virtual-network-links
# The deploying identity holds Network Contributor on the runner VNet for the remote half of the
# peering and the links (envs/bootstrap/main.rbac.tf).
locals {
  ci_runner_linked = var.ci_runner_network != null && local.private_network
}

data "azurerm_virtual_network" "ci_runner" {
  count = local.ci_runner_linked ? 1 : 0

  name                = var.ci_runner_network.virtual_network_name
  resource_group_name = var.ci_runner_network.resource_group_name
}

resource "azurerm_virtual_network_peering" "stack_to_ci_runner" {
  count = local.ci_runner_linked ? 1 : 0

  name                      = "peer-to-${var.ci_runner_network.virtual_network_name}"
  resource_group_name       = data.azurerm_resource_group.this.name
  virtual_network_name      = local.names.vnet
  remote_virtual_network_id = data.azurerm_virtual_network.ci_runner[0].id
  allow_forwarded_traffic   = false
  allow_gateway_transit     = false

  depends_on = [module.network]
}

resource "azurerm_virtual_network_peering" "ci_runner_to_stack" {
  count = local.ci_runner_linked ? 1 : 0

  name                      = "peer-to-${local.names.vnet}"
  resource_group_name       = var.ci_runner_network.resource_group_name
  virtual_network_name      = var.ci_runner_network.virtual_network_name
  remote_virtual_network_id = module.network[0].resource_id
  allow_forwarded_traffic   = false
  allow_gateway_transit     = false
}

resource "azurerm_private_dns_zone_virtual_network_link" "ci_runner" {
  # keys: the zone names, known at plan time (the ids come from module.network)
  for_each = local.ci_runner_linked ? toset(flatten(values(local.private_dns_zones_by_group))) : toset([])

  name                 = "link-${var.ci_runner_network.virtual_network_name}"
  private_dns_zone_id  = module.network[0].private_dns_zone_ids[each.key] # azurerm 5.x: the zone by id
  virtual_network_id   = data.azurerm_virtual_network.ci_runner[0].id
  registration_enabled = false
  # The runner VNet resolves everything through these links, GitHub's own hosts too: a name that
  # one of the stack's zones (privatelink.blob...) does not hold must fall back to public DNS, not
  # answer NXDOMAIN (artifact and cache downloads go to *.blob.core.windows.net).
  # https://learn.microsoft.com/azure/dns/private-dns-fallback
  resolution_policy = "NxDomainRedirect"
  tags              = local.tags

  # the zones must exist before they can be linked
  depends_on = [module.network]
}
