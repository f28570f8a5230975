# The bootstrap's own state, in container tfstate-bootstrap (owners only). On the very first run
# the storage does not exist yet: scripts/bootstrap_state.sh then applies with a local backend
# (a transient bootstrap_override.tf) and migrates the state here (`init -migrate-state`).
# The account and container come from the generated backend.hcl.
terraform {
  backend "azurerm" {
    key              = "forecast-stack/bootstrap.tfstate"
    use_azuread_auth = true
  }
}
