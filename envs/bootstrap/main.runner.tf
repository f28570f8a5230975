# The release pipeline's runners (modules/ci_runner), one per environment, created before the
# stacks exist so that prod's first apply already runs inside the network. Each has its own VNet,
# NAT gateway and static egress IP, Container Apps environment and job, identity, Key Vault with its
# own registration token, and label/pool: code merged to main runs dev's jobs, and a dev job can
# read whatever its runner's identity can (IDENTITY_ENDPOINT), so dev's runner must hold nothing
# that registers a prod runner and must not reach prod's network. Only prod's VNet is peered with
# prod's (infra/ peers it and links prod's private DNS zones to it); dev's is peered with nothing.
# https://docs.github.com/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions#hardening-for-self-hosted-runners
# Two runs: the first (ci_runner.image_tag = null) creates the network, registry and vault; the
# owner then stores the registration token (az keyvault secret set) and builds the image
# (az acr build); the second run, with image_tag set, creates the runner job itself.

locals {
  runner_ready = var.ci_runner.enabled && var.ci_runner.image_tag != null
  # One runner per environment (var.ci_runner.environments); none when the runner is disabled.
  runners = var.ci_runner.enabled ? var.ci_runner.environments : {}

  # Where each environment's GitHub runners register. A registration token scoped to a repository
  # registers a runner with any labels, prod's included, so dev's token (readable by every job on
  # dev's runner, which runs code from main) could register a rogue runner that takes prod's
  # approved jobs and their OIDC token. Prod's runners are therefore organisation runners in the
  # runner group var.github.prod_runner_group, which admits only this repository; prod's jobs ask
  # for runs-on { group, labels } (.github/workflows/release.yml), and no repository runner is in a
  # group. Prod's organisation-scoped token lives only in prod's vault, readable only by prod's
  # runner identity (main.rbac.tf).
  # https://docs.github.com/actions/writing-workflows/choosing-where-your-workflow-runs/choosing-the-runner-for-a-job#choosing-runners-in-a-group
  # https://docs.github.com/actions/hosting-your-own-runners/managing-self-hosted-runners/managing-access-to-self-hosted-runners-using-groups
  github_registration = {
    dev  = { scope = "repo", runner_group = null }
    prod = { scope = "org", runner_group = try(var.github.prod_runner_group, null) }
  }
}

# The prod runner's resources were `count` (address [0]) when it was the only runner.
moved {
  from = azurerm_role_assignment.owner_sets_runner_token[0]
  to   = azurerm_role_assignment.owner_sets_runner_token["prod"]
}
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
moved {
  from = azurerm_key_vault.runner[0]
  to   = azurerm_key_vault.runner["prod"]
}
moved {
  from = azurerm_user_assigned_identity.runner[0]
  to   = azurerm_user_assigned_identity.runner["prod"]
}
moved {
  from = module.ci_runner[0]
  to   = module.ci_runner["prod"]
}

# The owner running the bootstrap stores the registration token: Owner has no data-plane rights on
# an RBAC-mode vault, so it gets Secrets Officer on this vault only.
resource "azurerm_role_assignment" "owner_sets_runner_token" {
  for_each = local.runners

  scope                = azurerm_key_vault.runner[each.key].id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
  description          = "forecast-stack bootstrap: the owner who runs it stores the runner registration token"
}

resource "azurerm_virtual_network" "runner" {
  for_each = local.runners

  name                = local.names.runner_vnet[each.key]
  location            = var.location
  resource_group_name = azurerm_resource_group.bootstrap.name
  address_space       = each.value.address_space
  tags                = local.tags
}

resource "azurerm_network_security_group" "runner" {
  for_each = local.runners

  name                = "nsg-${local.names.runner_vnet[each.key]}-runners"
  location            = var.location
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

  # https://learn.microsoft.com/azure/container-apps/custom-virtual-networks#subnet
  delegation {
    name = "container-apps"
    service_delegation {
      name    = "Microsoft.App/environments"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

resource "azurerm_subnet_network_security_group_association" "runner" {
  for_each = local.runners

  subnet_id                 = azurerm_subnet.runner[each.key].id
  network_security_group_id = azurerm_network_security_group.runner[each.key].id
}

# One static egress address per runner: dev's endpoints are public, and the lake, workspace
# storage, Key Vault and SQL deny by default (the AML workspace and its registry stay open in dev,
# Entra-authenticated), so dev's plan, apply and deploy run on dev's runner and
# dev admits its address by name (`ci_runner_egress_ip`, bootstrap output `ci_runners.dev.egress_ip`);
# a GitHub-hosted runner's address is one of thousands shared with every other customer. A
# workload-profiles Container Apps environment sends its egress through the subnet's NAT gateway.
# https://learn.microsoft.com/azure/container-apps/networking#environment-selection
# https://learn.microsoft.com/azure/nat-gateway/nat-overview
resource "azurerm_public_ip" "runner_egress" {
  for_each = local.runners

  name                = "pip-${local.names.runner_vnet[each.key]}-egress"
  location            = var.location
  resource_group_name = azurerm_resource_group.bootstrap.name
  allocation_method   = "Static"
  sku                 = "Standard"
  tags                = local.tags
}

resource "azurerm_nat_gateway" "runner" {
  for_each = local.runners

  name                = "ng-${local.names.runner_vnet[each.key]}"
  location            = var.location
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

resource "azurerm_container_registry" "runner" {
  #checkov:skip=CKV_AZURE_139:Standard SKU has no private endpoints; pulls need the job's managed identity (AcrPull), admin user and anonymous pull are off
  #checkov:skip=CKV_FS_2:see CKV_AZURE_139: public endpoint, Entra-only pulls
  #checkov:skip=CKV2_FS_2:see CKV_AZURE_139: no private endpoint on Standard
  #checkov:skip=CKV_AZURE_233:one small runner image, rebuilt from modules/ci_runner/image in minutes; zone redundancy needs Premium
  #checkov:skip=CKV_AZURE_237:dedicated data endpoints are a Premium feature for firewall rules, which this registry does not use
  #checkov:skip=CKV_AZURE_164:content trust needs Premium; the only image is built by the owner from this repository with az acr build
  #checkov:skip=CKV_AZURE_165:geo-replication needs Premium; the runners run in one region
  #checkov:skip=CKV_AZURE_166:quarantine needs Premium; the only image is built from this repository (see CKV_AZURE_164)
  #checkov:skip=CKV_AZURE_167:retention of untagged manifests needs Premium; images are tagged and few
  #checkov:skip=CKV2_FS_1:the registry holds one image built by an owner; its pulls are in the Container Apps environment's logs
  count = var.ci_runner.enabled ? 1 : 0

  name                = local.names.runner_registry
  location            = var.location
  resource_group_name = azurerm_resource_group.bootstrap.name
  sku                 = "Standard"
  admin_enabled       = false # pulls use the job's managed identity
  tags                = local.tags
}

resource "azurerm_key_vault" "runner" {
  #checkov:skip=CKV_AZURE_189:Container Apps resolves Key Vault references over the public endpoint and is not a trusted service; access is RBAC on the one secret
  #checkov:skip=CKV_AZURE_109:see CKV_AZURE_189: a firewall would block the Container Apps secret reference
  #checkov:skip=CKV_FS_9:see CKV_AZURE_189: a deny-by-default firewall would block the Container Apps secret reference
  #checkov:skip=CKV_FS_2:see CKV_AZURE_189: public endpoint, RBAC-only access
  #checkov:skip=CKV2_FS_2:see CKV_AZURE_189: no private endpoint
  #checkov:skip=CKV2_AZURE_32:see CKV_AZURE_189: no private endpoint
  #checkov:skip=CKV2_FS_1:one secret, read by one identity; the bootstrap keeps no Log Analytics workspace of its own
  for_each = local.runners

  name                       = local.names.runner_key_vault[each.key]
  location                   = var.location
  resource_group_name        = azurerm_resource_group.bootstrap.name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  sku_name                   = "standard"
  rbac_authorization_enabled = true
  purge_protection_enabled   = true
  soft_delete_retention_days = 90
  tags                       = local.tags
}

module "ci_runner" {
  source   = "../../modules/ci_runner"
  for_each = local.runner_ready ? local.runners : {}

  name                     = local.names.runner_job[each.key]
  placeholder_name         = var.ci_runner.platform == "azure-pipelines" ? local.names.runner_placeholder[each.key] : null
  location                 = var.location
  resource_group_name      = azurerm_resource_group.bootstrap.name
  infrastructure_subnet_id = azurerm_subnet.runner[each.key].id
  # Its own identity, never the deploying one (main.tf, azurerm_user_assigned_identity.runner).
  identity = {
    resource_id = azurerm_user_assigned_identity.runner[each.key].id
    client_id   = azurerm_user_assigned_identity.runner[each.key].client_id
  }
  image = {
    registry_login_server = azurerm_container_registry.runner[0].login_server
    tag                   = coalesce(var.ci_runner.image_tag, "unset")
  }
  registration_key_vault_reference = "${azurerm_key_vault.runner[each.key].vault_uri}secrets/${var.ci_runner.registration_token_secret_name}"
  platform                         = var.ci_runner.platform
  github = var.github == null ? null : {
    owner        = var.github.owner
    repository   = var.github.repository
    scope        = local.github_registration[each.key].scope
    runner_group = local.github_registration[each.key].runner_group
  }
  azure_pipelines = var.azure_devops == null ? null : {
    organization_url = "https://dev.azure.com/${var.azure_devops.organization}"
    pool_name        = each.value.azure_pipelines_pool
  }
  labels = each.value.labels
  tags   = merge(local.tags, { environment = each.key })

  depends_on = [azurerm_role_assignment.this]
}
