# The release pipeline's runners, one per environment, created before the stacks exist so that
# prod's first apply already runs inside the network. Managed, not self-hosted: GitHub-hosted
# runners with Azure private networking, or Azure DevOps Managed DevOps Pools (modules/ci_runner;
# the comparison and the choice: docs/release-path.md). Neither holds a registration secret, and the
# runner machine carries no managed identity of ours, so a job reaches no credential but its own
# OIDC token. Each environment has its own VNet, subnet, NSG, NAT gateway and static egress IP;
# only prod's VNet is peered with prod's (infra/ peers it and links prod's private DNS zones);
# dev's is peered with nothing.

locals {
  runners = var.ci_runner.enabled ? var.ci_runner.environments : {}
  # GitHub private networking runs in a subset of regions: the runner VNets may sit in another
  # region than the stacks (var.ci_runner.location), reached over global peering (prod) and
  # cross-region service endpoints (dev's storage).
  runner_location = coalesce(var.ci_runner.location, var.location)
  # One delegation per subnet, the platform's own.
  # https://docs.github.com/organizations/managing-organization-settings/configuring-private-networking-for-github-hosted-runners-in-your-organization#configuring-your-azure-resources
  # https://learn.microsoft.com/azure/devops/managed-devops-pools/configure-networking#delegate-the-subnet-to-microsoftdevopsinfrastructurepools
  runner_delegation = {
    github            = "GitHub.Network/networkSettings"
    "azure-pipelines" = "Microsoft.DevOpsInfrastructure/pools"
  }[var.ci_runner.platform]
}

resource "azurerm_virtual_network" "runner" {
  for_each = local.runners

  name                = local.names.runner_vnet[each.key]
  location            = local.runner_location
  resource_group_name = azurerm_resource_group.bootstrap.name
  address_space       = each.value.address_space
  tags                = local.tags
}

resource "azurerm_network_security_group" "runner" {
  for_each = local.runners

  name                = "nsg-${local.names.runner_vnet[each.key]}-runners"
  location            = local.runner_location
  resource_group_name = azurerm_resource_group.bootstrap.name
  tags                = local.tags

  # No inbound from the internet: the runners only call out (GitHub or Azure DevOps, Azure APIs).
  security_rule {
    name                       = "deny-internet-inbound"
    priority                   = 4000
    direction                  = "Inbound"
    access                     = "Deny"
    protocol                   = "*"
    source_port_range          = "*"
    destination_port_range     = "*"
    source_address_prefix      = "Internet"
    destination_address_prefix = "*"
  }
}

resource "azurerm_subnet" "runner" {
  for_each = local.runners

  name                 = "runners"
  resource_group_name  = azurerm_resource_group.bootstrap.name
  virtual_network_name = azurerm_virtual_network.runner[each.key].name
  address_prefixes     = [each.value.subnet_prefix]
  # Storage firewalls ignore IP rules for requests from the same region, so the state account and
  # dev's storage admit this subnet by VNet rule; Microsoft.Storage.Global also covers accounts in
  # another region than the runner.
  # https://learn.microsoft.com/azure/storage/common/storage-network-security-limitations
  # https://learn.microsoft.com/azure/storage/common/storage-network-security-virtual-networks
  service_endpoint {
    service = "Microsoft.Storage.Global"
  }

  delegation {
    name = "ci-runners"
    service_delegation {
      name    = local.runner_delegation
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

resource "azurerm_subnet_network_security_group_association" "runner" {
  for_each = local.runners

  subnet_id                 = azurerm_subnet.runner[each.key].id
  network_security_group_id = azurerm_network_security_group.runner[each.key].id
}

# One static egress address per runner, for the firewalls that take IP rules from another region
# (dev's SQL and Key Vault: `ci_runner_egress_ip`, bootstrap output `ci_runners.dev.egress_ip`).
# https://learn.microsoft.com/azure/nat-gateway/nat-overview
resource "azurerm_public_ip" "runner_egress" {
  for_each = local.runners

  name                = "pip-${local.names.runner_vnet[each.key]}-egress"
  location            = local.runner_location
  resource_group_name = azurerm_resource_group.bootstrap.name
  allocation_method   = "Static"
  sku                 = "Standard"
  tags                = local.tags
}

resource "azurerm_nat_gateway" "runner" {
  for_each = local.runners

  name                = "ng-${local.names.runner_vnet[each.key]}"
  location            = local.runner_location
  resource_group_name = azurerm_resource_group.bootstrap.name
  sku_name            = "Standard"
  tags                = local.tags
}

resource "azurerm_nat_gateway_public_ip_association" "runner" {
  for_each = local.runners

  nat_gateway_id       = azurerm_nat_gateway.runner[each.key].id
  public_ip_address_id = azurerm_public_ip.runner_egress[each.key].id
}

resource "azurerm_subnet_nat_gateway_association" "runner" {
  for_each = local.runners

  subnet_id      = azurerm_subnet.runner[each.key].id
  nat_gateway_id = azurerm_nat_gateway.runner[each.key].id
}

# Azure DevOps: every Managed DevOps Pool belongs to a Dev Center project (one for both pools).
# https://learn.microsoft.com/azure/devops/managed-devops-pools/prerequisites#create-a-dev-center-and-dev-center-project
resource "azurerm_dev_center" "runner" {
  count = var.ci_runner.enabled && var.ci_runner.platform == "azure-pipelines" ? 1 : 0

  name                = local.names.dev_center
  location            = local.runner_location
  resource_group_name = azurerm_resource_group.bootstrap.name
  tags                = local.tags
}

resource "azurerm_dev_center_project" "runner" {
  count = var.ci_runner.enabled && var.ci_runner.platform == "azure-pipelines" ? 1 : 0

  name                = local.names.dev_center_project
  location            = local.runner_location
  resource_group_name = azurerm_resource_group.bootstrap.name
  dev_center_id       = azurerm_dev_center.runner[0].id
  tags                = local.tags
}

module "ci_runner" {
  source   = "../../modules/ci_runner"
  for_each = local.runners

  name                = local.names.runner[each.key]
  location            = local.runner_location
  resource_group_name = azurerm_resource_group.bootstrap.name
  resource_group_id   = azurerm_resource_group.bootstrap.id
  subnet_id           = azurerm_subnet.runner[each.key].id
  platform            = var.ci_runner.platform
  github              = var.ci_runner.platform == "github" ? { organization_id = var.github.organization_id } : null
  azure_devops = var.ci_runner.platform == "azure-pipelines" ? {
    organization_url      = "https://dev.azure.com/${var.azure_devops.organization}"
    project               = var.azure_devops.project
    dev_center_project_id = azurerm_dev_center_project.runner[0].id
  } : null
  tags = merge(local.tags, { environment = each.key })

  # Managed DevOps Pools needs its service principal's roles on the VNet first (main.rbac.tf).
  depends_on = [azurerm_role_assignment.this, azurerm_subnet_network_security_group_association.runner]
}

# The prod runner's network was `count` (address [0]) when it was the only runner.
moved {
  from = azurerm_virtual_network.runner[0]
  to   = azurerm_virtual_network.runner["prod"]
}
moved {
  from = azurerm_network_security_group.runner[0]
  to   = azurerm_network_security_group.runner["prod"]
}
moved {
  from = azurerm_subnet.runner[0]
  to   = azurerm_subnet.runner["prod"]
}
moved {
  from = azurerm_subnet_network_security_group_association.runner[0]
  to   = azurerm_subnet_network_security_group_association.runner["prod"]
}
moved {
  from = azurerm_public_ip.runner_egress[0]
  to   = azurerm_public_ip.runner_egress["prod"]
}
moved {
  from = azurerm_nat_gateway.runner[0]
  to   = azurerm_nat_gateway.runner["prod"]
}
moved {
  from = azurerm_nat_gateway_public_ip_association.runner[0]
  to   = azurerm_nat_gateway_public_ip_association.runner["prod"]
}
moved {
  from = azurerm_subnet_nat_gateway_association.runner[0]
  to   = azurerm_subnet_nat_gateway_association.runner["prod"]
}
