# The CI runners of one environment, inside its VNet, as a managed service that holds no
# registration secret: no token, no vault, no image and no identity of ours is on the machine a job
# runs on, so a job can use no credential but its own OIDC token (docs/release-path.md).
#
#   GitHub         GitHub-hosted runners with Azure private networking: the subnet is delegated to
#                  GitHub.Network/networkSettings and this resource hands its id to GitHub, which
#                  injects each runner's NIC into the subnet. The runner VM is GitHub's, single-use,
#                  with no Azure managed identity of ours.
#                  https://docs.github.com/organizations/managing-organization-settings/about-azure-private-networking-for-github-hosted-runners-in-your-organization
#                  https://docs.github.com/organizations/managing-organization-settings/configuring-private-networking-for-github-hosted-runners-in-your-organization
#   Azure DevOps   a Managed DevOps Pool (Microsoft.DevOpsInfrastructure/pools, azurerm's own
#                  resource) with stateless agents in the subnet, delegated to
#                  Microsoft.DevOpsInfrastructure/pools, and no `identity` block: a pool identity
#                  would be reachable from every job through the VM's IMDS endpoint.
#                  https://learn.microsoft.com/azure/devops/managed-devops-pools/configure-networking
#                  https://learn.microsoft.com/azure/devops/managed-devops-pools/configure-identity

# The networkSettings resource is the handle GitHub's network configuration points at
# (`network_settings_ids`); its GitHubId tag is what GitHub asks for.
# https://docs.github.com/organizations/managing-organization-settings/configuring-private-networking-for-github-hosted-runners-in-your-organization#1-obtain-the-databaseid-for-your-organization
resource "azapi_resource" "network_settings" {
  count = var.platform == "github" ? 1 : 0

  type      = "GitHub.Network/networkSettings@2024-04-02"
  name      = var.name
  parent_id = var.resource_group_id
  location  = var.location
  tags      = var.tags
  # azapi's embedded schema has no GitHub.Network type (no published REST spec), so plan fails with
  # "resource type GitHub.Network/networkSettings can't be found" unless validation is off for it.
  # https://github.com/Azure/terraform-provider-azapi/issues/447 (this type and version)
  # https://github.com/Azure/azure-rest-api-specs/issues/29307 (no spec for GitHub.Network)
  # tests/infra/test_release_path.py::test_an_azapi_type_missing_from_its_schema_turns_validation_off
  schema_validation_enabled = false
  body = {
    properties = {
      businessId = var.github.organization_id
      subnetId   = var.subnet_id
    }
  }
  response_export_values = ["tags.GitHubId"]

  # The resource provider adds the GitHubId tag itself; without this a second bootstrap run would
  # plan a tags update that drops it (review 23 walk, U2), and with it the handle doctor and the
  # organisation's network configuration read. Our own tags still apply.
  # https://developer.hashicorp.com/terraform/language/meta-arguments/lifecycle#ignore_changes
  lifecycle {
    ignore_changes = [tags["GitHubId"]]
  }
}

resource "azurerm_managed_devops_pool" "this" {
  count = var.platform == "azure-pipelines" ? 1 : 0

  name                  = var.name
  location              = var.location
  resource_group_name   = var.resource_group_name
  dev_center_project_id = var.azure_devops.dev_center_project_id
  maximum_concurrency   = var.maximum_concurrency
  tags                  = var.tags

  azure_devops_organization {
    organization {
      url         = var.azure_devops.organization_url
      projects    = [var.azure_devops.project]
      parallelism = var.maximum_concurrency
    }
    # Only the pool's creator administers the Azure DevOps pool; pipeline permissions and the
    # Branch control check (prod: refs/heads/release/*) are set on it in Azure DevOps.
    permission {
      kind = "CreatorOnly"
    }
  }

  virtual_machine_scale_set_fabric {
    sku_name  = var.azure_devops.sku_name
    subnet_id = var.subnet_id
    image {
      well_known_image_name = var.azure_devops.image
    }
  }

  # Stateless: a fresh agent for every job, nothing survives from one job to the next.
  # https://learn.microsoft.com/azure/devops/managed-devops-pools/configure-scaling
  stateless_agent {}
}
