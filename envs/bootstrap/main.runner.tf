# The release pipeline's runner for prod (modules/ci_runner), created before prod exists so that
# prod's first apply already runs inside the network. It sits in its own VNet; infra/ (prod) peers
# that VNet with the stack's and links every private DNS zone of the stack to it.
# Two runs: the first (ci_runner.image_tag = null) creates the network, registry and vault; the
# owner then stores the registration token (az keyvault secret set) and builds the image
# (az acr build); the second run, with image_tag set, creates the runner job itself.

locals {
  runner_ready = var.ci_runner.enabled && var.ci_runner.image_tag != null
}

# The owner running the bootstrap stores the registration token: Owner has no data-plane rights on
# an RBAC-mode vault, so it gets Secrets Officer on this vault only.
resource "azurerm_role_assignment" "owner_sets_runner_token" {
  count = var.ci_runner.enabled ? 1 : 0

  scope                = azurerm_key_vault.runner[0].id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
  description          = "forecast-stack bootstrap: the owner who runs it stores the runner registration token"
}

resource "azurerm_virtual_network" "runner" {
  count = var.ci_runner.enabled ? 1 : 0

  name                = local.names.runner_vnet
  location            = var.location
  resource_group_name = azurerm_resource_group.bootstrap.name
  address_space       = var.ci_runner.address_space
  tags                = local.tags
}

resource "azurerm_network_security_group" "runner" {
  count = var.ci_runner.enabled ? 1 : 0

  name                = "nsg-${local.names.runner_vnet}-runners"
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
  count = var.ci_runner.enabled ? 1 : 0

  name                 = "runners"
  resource_group_name  = azurerm_resource_group.bootstrap.name
  virtual_network_name = azurerm_virtual_network.runner[0].name
  address_prefixes     = [var.ci_runner.subnet_prefix]

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
  count = var.ci_runner.enabled ? 1 : 0

  subnet_id                 = azurerm_subnet.runner[0].id
  network_security_group_id = azurerm_network_security_group.runner[0].id
}

# One static egress address for every runner: dev's endpoints are public, and the lake, workspace
# storage, Key Vault and SQL deny by default (the AML workspace and its registry stay open in dev,
# Entra-authenticated), so dev's plan, apply and deploy run here too and
# dev admits this address by name (`ci_runner_egress_ip`, bootstrap output `ci_runner.egress_ip`);
# a GitHub-hosted runner's address is one of thousands shared with every other customer. A
# workload-profiles Container Apps environment sends its egress through the subnet's NAT gateway.
# https://learn.microsoft.com/azure/container-apps/networking#environment-selection
# https://learn.microsoft.com/azure/nat-gateway/nat-overview
resource "azurerm_public_ip" "runner_egress" {
  count = var.ci_runner.enabled ? 1 : 0

  name                = "pip-${local.names.runner_vnet}-egress"
  location            = var.location
  resource_group_name = azurerm_resource_group.bootstrap.name
  allocation_method   = "Static"
  sku                 = "Standard"
  tags                = local.tags
}

resource "azurerm_nat_gateway" "runner" {
  count = var.ci_runner.enabled ? 1 : 0

  name                = "ng-${local.names.runner_vnet}"
  location            = var.location
  resource_group_name = azurerm_resource_group.bootstrap.name
  sku_name            = "Standard"
  tags                = local.tags
}

resource "azurerm_nat_gateway_public_ip_association" "runner" {
  count = var.ci_runner.enabled ? 1 : 0

  nat_gateway_id       = azurerm_nat_gateway.runner[0].id
  public_ip_address_id = azurerm_public_ip.runner_egress[0].id
}

resource "azurerm_subnet_nat_gateway_association" "runner" {
  count = var.ci_runner.enabled ? 1 : 0

  subnet_id      = azurerm_subnet.runner[0].id
  nat_gateway_id = azurerm_nat_gateway.runner[0].id
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
  count = var.ci_runner.enabled ? 1 : 0

  name                       = local.names.runner_key_vault
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
  source = "../../modules/ci_runner"
  count  = local.runner_ready ? 1 : 0

  name                     = local.names.runner_job
  location                 = var.location
  resource_group_name      = azurerm_resource_group.bootstrap.name
  infrastructure_subnet_id = azurerm_subnet.runner[0].id
  # Its own identity, never the deploying one (main.tf, azurerm_user_assigned_identity.runner).
  identity = {
    resource_id = azurerm_user_assigned_identity.runner[0].id
    client_id   = azurerm_user_assigned_identity.runner[0].client_id
  }
  image = {
    registry_login_server = azurerm_container_registry.runner[0].login_server
    tag                   = coalesce(var.ci_runner.image_tag, "unset")
  }
  registration_key_vault_reference = "${azurerm_key_vault.runner[0].vault_uri}secrets/${var.ci_runner.registration_token_secret_name}"
  platform                         = var.ci_runner.platform
  github                           = var.github
  azure_pipelines = var.azure_devops == null ? null : {
    organization_url = "https://dev.azure.com/${var.azure_devops.organization}"
    pool_name        = var.ci_runner.azure_pipelines_pool
  }
  labels = var.ci_runner.labels
  tags   = merge(local.tags, { environment = "prod" })

  depends_on = [azurerm_role_assignment.this]
}
