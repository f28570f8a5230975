# Copy to terraform.tfvars (not committed: it names your subscription's resources) and fill in.
# make validate scans the bootstrap with these values (checkov); `make doctor ENV=dev` reads them.
workload                   = "fcst"
location                   = "westeurope"
location_short             = "weu"
name_suffix                = "p01"
state_storage_account_name = "stfcsttfstatep01"
# Your public IP (CIDR), to run the bootstrap and `make plan` from a laptop: the state account
# denies every other network but the runner subnets.
state_allowed_ip_ranges = ["203.0.113.10"]

github = {
  owner = "your-org" # an organisation: runner groups and Azure private networking need one
  # gh api repos/your-org/forecast-stack --jq '.owner.id, .id'
  owner_id      = "1000001"
  repository    = "forecast-stack"
  repository_id = "2000002"
  # gh api graphql -f query='{organization(login:"your-org"){databaseId}}'
  organization_id = "1000001"
  # The `sub` form the repository sends (gh api repos/your-org/forecast-stack/actions/oidc/customization/sub);
  # both while migrating: https://learn.microsoft.com/entra/workload-id/workload-identities-github-immutable-subjects
  subject_forms = ["immutable"]
}

# azure_devops = {
#   organization = "your-org"
#   project      = "forecast"
#   # Each connection's issuer and subject, copied from Azure DevOps after creating it (README "Azure: first deploy", step 6).
#   service_connections = {
#     dev = { issuer = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0", subject = "/eid1/c/pub/t/AAAA/a/BBBB/sc/00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000002" }
#   }
# }

ci_runner = {
  platform = "github"
  # GitHub's private networking is not offered in westeurope: the runner VNets sit next door.
  location = "northeurope"
}

tags = {
  owner               = "demand-forecasting-team"
  cost_centre         = "cc-4711"
  data_classification = "confidential"
}
