# Copy to terraform.tfvars (not committed: it names your subscription's resources) and fill in.
# make validate scans the bootstrap with these values (checkov).
workload                   = "fcst"
location                   = "westeurope"
location_short             = "weu"
name_suffix                = "p01"
state_storage_account_name = "stfcsttfstatep01"

github = {
  owner      = "your-org" # an organisation: prod's runners join its runner group
  repository = "forecast-stack"
  # Created by an organisation owner, restricted to this repository, before the second run
  # (README, "Release pipeline"); the workflow's PROD_RUNNER_GROUP names the same group.
  prod_runner_group = "forecast-stack-prod"
}

# azure_devops = {
#   organization        = "your-org"
#   organization_id     = "00000000-0000-0000-0000-000000000000"
#   project             = "forecast"
#   service_connections = { dev = "forecast-dev", prod = "forecast-prod", "dev-plan" = "forecast-dev-plan", "prod-plan" = "forecast-prod-plan" }
# }

ci_runner = {
  platform  = "github"
  image_tag = null # set after `az acr build` (README, Prerequisites for Azure)
}

tags = {
  owner               = "demand-forecasting-team"
  cost_centre         = "cc-4711"
  data_classification = "confidential"
}
