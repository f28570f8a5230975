variable "name" {
  type        = string
  description = "Name of the runner resource: the GitHub.Network/networkSettings resource (GitHub) or the Managed DevOps Pool, which is also the Azure DevOps agent pool's name."
  nullable    = false
}

variable "location" {
  type        = string
  description = "Azure region of the runner and its subnet. GitHub private networking supports a subset of regions (var.platform = github is checked against it)."
  nullable    = false

  # GitHub.com's supported regions for Azure private networking, as listed on
  # https://docs.github.com/organizations/managing-organization-settings/troubleshooting-azure-private-network-configurations-for-github-hosted-runners-in-your-organization#supported-regions
  validation {
    condition = var.platform != "github" || contains([
      "australiaeast", "brazilsouth", "canadacentral", "canadaeast", "centralus", "eastasia", "eastus",
      "eastus2", "francecentral", "germanywestcentral", "japaneast", "koreacentral", "northcentralus",
      "northeurope", "norwayeast", "southcentralus", "southeastasia", "southindia", "swedencentral",
      "switzerlandnorth", "uksouth", "westus", "westus2", "westus3",
    ], lower(replace(var.location, " ", "")))
    error_message = "GitHub-hosted runners with Azure private networking are not offered in this region; put the runner VNet in a supported region (ci_runner.location, e.g. northeurope next to westeurope) and peer it with the stack."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the runner resource (the bootstrap's own)."
  nullable    = false
}

variable "resource_group_id" {
  type        = string
  description = "Resource id of that resource group (azapi's parent_id)."
  nullable    = false
}

variable "subnet_id" {
  type        = string
  description = "The environment's runner subnet, delegated to GitHub.Network/networkSettings (GitHub) or Microsoft.DevOpsInfrastructure/pools (Azure DevOps)."
  nullable    = false
}

variable "platform" {
  type        = string
  description = "github (GitHub-hosted runners with Azure private networking) or azure-pipelines (a Managed DevOps Pool)."
  nullable    = false

  validation {
    condition     = contains(["github", "azure-pipelines"], var.platform)
    error_message = "platform must be github or azure-pipelines."
  }
}

variable "github" {
  type = object({
    organization_id = string
  })
  description = <<DESCRIPTION
GitHub only.

- `organization_id` - (Required) The organisation's databaseId, the networkSettings businessId:
  `gh api graphql -f query='{organization(login:"ORG"){databaseId}}'`.
DESCRIPTION
  default     = null

  validation {
    condition     = var.github == null || can(regex("^[0-9]+$", try(var.github.organization_id, "")))
    error_message = "github.organization_id is the organisation's numeric databaseId, not its login."
  }
}

variable "azure_devops" {
  type = object({
    organization_url      = string
    project               = string
    dev_center_project_id = string
    sku_name              = optional(string, "Standard_D4ads_v5")
    image                 = optional(string, "ubuntu-24.04/latest")
  })
  description = <<DESCRIPTION
Azure DevOps only.

- `organization_url` - (Required) https://dev.azure.com/<organisation>.
- `project` - (Required) The project whose pipelines use the pool.
- `dev_center_project_id` - (Required) The Dev Center project every Managed DevOps Pool belongs to.
- `sku_name` - (Optional) The agents' VM size (default Standard_D4ads_v5).
- `image` - (Optional) The agents' well-known image (default ubuntu-24.04/latest).
DESCRIPTION
  default     = null
}

variable "maximum_concurrency" {
  type        = number
  description = "Azure DevOps only: the most agents the pool runs at once (each job gets a fresh one)."
  default     = 2
  nullable    = false
}

variable "tags" {
  type        = map(string)
  description = "Tags on the runner resource."
  default     = {}
  nullable    = false
}
