# The tags every resource of the stack carries (the modules refuse a missing one).
locals {
  tags = {
    environment         = "dev"
    owner               = "platform-team"
    cost_centre         = "cc-1234"
    data_classification = "internal"
  }
}

resource "azurerm_resource_group" "example" {
  name     = "rg-fcst-example-weu"
  location = "westeurope"
  tags     = local.tags
}

# The prod stack's virtual network: a private endpoint subnet and the private DNS zones.
module "network" {
  source = "../.."

  name                = "vnet-fcst-example-weu"
  location            = azurerm_resource_group.example.location
  resource_group_name = azurerm_resource_group.example.name
  address_space       = ["10.40.0.0/22"]
  subnets = {
    private_endpoints = { address_prefix = "10.40.0.0/24" }
  }
  private_dns_zones = ["privatelink.blob.core.windows.net", "privatelink.vaultcore.azure.net"]
  tags              = local.tags
}
