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

resource "azurerm_virtual_network" "runners" {
  name                = "vnet-fcst-runners-weu"
  location            = azurerm_resource_group.example.location
  resource_group_name = azurerm_resource_group.example.name
  address_space       = ["10.50.0.0/24"]
  tags                = local.tags
}

resource "azurerm_subnet" "runners" {
  name                 = "runners"
  resource_group_name  = azurerm_resource_group.example.name
  virtual_network_name = azurerm_virtual_network.runners.name
  address_prefixes     = ["10.50.0.0/26"]

  delegation {
    name = "github"
    service_delegation {
      name = "GitHub.Network/networkSettings"
    }
  }
}

# GitHub's private networking needs the subnet's own network security group
# (https://docs.github.com/en/organizations/managing-organization-settings/configuring-private-networking-for-github-hosted-runners-in-your-organization).
resource "azurerm_network_security_group" "runners" {
  name                = "nsg-fcst-runners-weu"
  location            = azurerm_resource_group.example.location
  resource_group_name = azurerm_resource_group.example.name
  tags                = local.tags
}

resource "azurerm_subnet_network_security_group_association" "runners" {
  subnet_id                 = azurerm_subnet.runners.id
  network_security_group_id = azurerm_network_security_group.runners.id
}

# GitHub-hosted runners with Azure private networking in that subnet.
module "ci_runner" {
  source = "../.."

  name                = "fcst-example-runners"
  location            = azurerm_resource_group.example.location
  resource_group_name = azurerm_resource_group.example.name
  resource_group_id   = azurerm_resource_group.example.id
  subnet_id           = azurerm_subnet.runners.id
  platform            = "github"
  github              = { organization_id = "123456" } # gh api graphql -f query='{organization(login:"ORG"){databaseId}}'
  tags                = local.tags
}
