# State in Azure Storage with Entra ID auth (OIDC in CI, az login on a laptop): no access key.
# The account, container and resource group come from -backend-config=backend.hcl; the key is
# per environment so dev and prod never share a state.
terraform {
  backend "azurerm" {
    key              = "forecast-stack/dev.tfstate"
    use_azuread_auth = true
    use_oidc         = true
  }
}
