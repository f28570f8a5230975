resource "azurerm_storage_account" "workspace" {
  #checkov:skip=CKV2_AZURE_1:Platform-managed keys; this account holds AML run artifacts and snapshots only, no business data.
  #checkov:skip=CKV_AZURE_206:Zone-redundant storage (ZRS) in prod; geo-replication is not required because ADF can re-land the raw data from the source systems and everything else is derived from it.
  #checkov:skip=CKV_AZURE_33:Queue read, write and delete logs reach Log Analytics through the diagnostic setting on queueServices/default (main.diagnostics.tf); this check only recognises classic Storage Analytics logging, which 5.x moved out of this resource.
  name                            = var.storage_account_name
  location                        = var.location
  resource_group_name             = var.resource_group_name
  account_kind                    = "StorageV2"
  account_tier                    = "Standard"
  account_replication_type        = var.zone_redundant ? "ZRS" : "LRS"
  shared_access_key_enabled       = false
  local_user_enabled              = false
  default_to_oauth_authentication = true
  min_tls_version                 = "TLS1_2"
  allow_nested_items_to_be_public = false
  public_network_access_enabled   = var.public_network_access_enabled
  tags                            = var.tags

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = 14
    }

    container_delete_retention_policy {
      days = 14
    }
  }

  # Deny by default in every environment. Jobs reach this account through the private endpoints
  # AML's managed network creates for the workspace's own storage (in both isolation modes), the
  # workspace service as a trusted Azure service, and people (dev) through named IP ranges.
  # https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#required-rules
  # https://learn.microsoft.com/azure/storage/common/storage-network-security#trusted-access-for-resources-registered-in-your-entra-tenant
  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices", "Logging", "Metrics"]
    ip_rules       = var.public_network_access_enabled ? var.allowed_ip_ranges : []
    # A subnet with a storage service endpoint reaches the account from private VNet addresses, so
    # only a VNet rule admits it (IP rules see public addresses only).
    # https://learn.microsoft.com/azure/storage/common/storage-network-security-virtual-networks
    virtual_network_subnet_ids = var.public_network_access_enabled ? var.allowed_subnet_ids : []
  }
}

resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_163:Images are built by AML from the pinned environment in this repository; Defender for Containers scanning is enabled at subscription level, not per registry.
  #checkov:skip=CKV_AZURE_164:Content trust needs Docker Content Trust signing in AML image builds, which AML does not support.
  #checkov:skip=CKV_AZURE_165:Single-region stack; a geo-replica would serve no deployment.
  #checkov:skip=CKV_AZURE_166:Quarantine needs a scanner to release images; AML image builds would block on it.
  #checkov:skip=CKV_AZURE_233:Zone redundancy is a per-environment value (var.zone_redundant): on in prod, off in dev to save cost.
  name                = var.container_registry_name
  location            = var.location
  resource_group_name = var.resource_group_name
  # Premium is the only SKU with private endpoints, dedicated data endpoints, zone redundancy and
  # a retention policy (validated on var.container_registry_sku; CKV_FS_8).
  # https://learn.microsoft.com/azure/container-registry/container-registry-skus
  sku                           = var.container_registry_sku
  admin_enabled                 = false
  data_endpoint_enabled         = true
  retention_policy_in_days      = 7
  public_network_access_enabled = var.public_network_access_enabled
  zone_redundancy_enabled       = var.zone_redundant
  tags                          = var.tags
}

resource "azurerm_machine_learning_workspace" "this" {
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  storage_account_id            = azurerm_storage_account.workspace.id
  key_vault_id                  = var.key_vault_id
  container_registry_id         = azurerm_container_registry.this.id
  application_insights_id       = var.application_insights_id
  public_network_access_enabled = var.public_network_access_enabled
  # The workspace storage has shared keys off, so the system datastores (workspaceblobstore,
  # workspacefilestore, workspaceartifactstore) must authenticate with identities: the workspace,
  # compute and caller identities then need the data roles infra/main.rbac.tf grants. (CKV_FS_7)
  # https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage
  storage_account_access_type = "Identity"
  # A registry behind a private endpoint cannot be reached by ACR Tasks, so images are built on a
  # cluster of our own inside the managed network. (CKV_FS_10)
  # https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#configure-image-builds
  image_build_compute_name = var.image_build_compute_name
  v1_legacy_mode_enabled   = false
  tags                     = var.tags

  # System-assigned only: identity-based datastores and the RBAC in infra/main.rbac.tf use it;
  # no caller passes a user-assigned one.
  identity {
    type = "SystemAssigned"
  }

  managed_network {
    isolation_mode = var.managed_network_isolation_mode
    # Provision the managed network now, not on the first job (which would otherwise wait ~30 min
    # and fail if the caller lacks the network rights). (CKV_FS_10)
    # https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#manually-provision-a-managed-vnet
    provision_on_creation_enabled = true
  }
}

# Outbound rules of the managed network, in ONE write of the workspace's
# `properties.managedNetwork`: a private endpoint to every private resource jobs read or write (the
# lake's blob and dfs, SQL, the workspace storage's queue and table), and in AllowOnlyApprovedOutbound
# the FQDNs of the package feeds the image build installs from. (CKV_FS_10; tests/infra/test_release_blockers.py)
# https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#scenario-access-public-machine-learning-packages
# Why not azurerm's outbound-rule resources: their sub_resource_target refuses `sqlServer` at plan
# (StringInSlice vault|amlworkspace|blob|table|queue|file|web|dfs|redisCache, and Create refuses
# providers other than KeyVault/Cache/MachineLearningServices/Storage:
# internal/services/machinelearning/machine_learning_workspace_network_outbound_rule_private_endpoint_resource.go,
# https://github.com/hashicorp/terraform-provider-azurerm/issues/30955), and one resource per rule
# means parallel PUTs on one workspace, which the service has been seen to lose
# (https://github.com/Azure/terraform-provider-azapi/issues/453). One PUT of the whole map cannot race.
# firewallSku Basic: FQDN rules make AML deploy an Azure Firewall, Standard unless told otherwise
# (https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#select-an-azure-firewall-version).
# api-version 2025-06-01, the one azurerm 5.x manages this workspace with
# (hashicorp/terraform-provider-azurerm internal/services/machinelearning/client/client.go imports
# go-azure-sdk machinelearningservices/2025-06-01/workspaces). azapi_update_resource GETs the whole
# workspace, merges our body in and PUTs the result after keeping only the properties the
# api-version's schema declares (Azure/terraform-provider-azapi internal/services/azapi_update_resource.go
# CreateUpdate: MergeObject, then ResourceDef.GetWriteOnly). An older version silently drops what it
# does not know: 2024-10-01's WorkspaceProperties has no systemDatastoresAuthMode, so every write
# would turn the Identity datastores (storage_account_access_type above) back to access keys on a
# storage account whose keys are off. 2025-06-01 has systemDatastoresAuthMode and firewallSku; azapi
# embeds its types from v2.5.0 on (internal/azure/generated/machinelearningservices/
# microsoft.machinelearningservices/2025-06-01/types.json), hence the >= 2.5.0 pin in versions.tf.
# (tests/infra/test_release_blockers.py::test_azapi_updates_use_the_api_version_azurerm_manages)
# https://learn.microsoft.com/azure/templates/microsoft.machinelearningservices/2025-06-01/workspaces
# https://github.com/Azure/bicep-types-az/blob/main/generated/machinelearningservices/microsoft.machinelearningservices/2025-06-01/types.md
resource "azapi_update_resource" "managed_network" {
  type        = "Microsoft.MachineLearningServices/workspaces@2025-06-01"
  resource_id = azurerm_machine_learning_workspace.this.id
  body = {
    properties = {
      managedNetwork = merge(
        {
          isolationMode = var.managed_network_isolation_mode
          outboundRules = local.outbound_rules
        },
        { for key, sku in { firewallSku = var.managed_network_firewall_sku } : key => sku if length(local.fqdn_rules) > 0 },
      )
    }
  }

  # The workspace identity must be able to approve the private endpoints these rules create, before
  # they are created (approver role assignments passed in by the caller).
  # https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#configure-a-managed-virtual-network-to-allow-only-approved-outbound
  depends_on = [terraform_data.outbound_rules_after]

  lifecycle {
    # azurerm's Update writes managedNetwork with its own fields only (isolation mode), which drops
    # these rules; an update resource never notices (it has no drift: its Read keeps only the keys of
    # our body it finds). So any change of the workspace's managed_network block rewrites the rules
    # after it. replace_triggered_by takes a managed resource's attribute:
    # https://developer.hashicorp.com/terraform/language/meta-arguments/lifecycle#replace_triggered_by
    # (tests/infra/test_release_blockers.py::test_the_rules_are_rewritten_after_azurerm_writes_the_network)
    replace_triggered_by = [azurerm_machine_learning_workspace.this.managed_network]
  }
}

# Orders the rule write after what the caller names (the workspace identity's approver role).
resource "terraform_data" "outbound_rules_after" {
  input = var.outbound_rules_after
}

locals {
  # In AllowOnlyApprovedOutbound AML itself creates private-endpoint rules to the workspace
  # storage's blob and file ("List of required rules", regardless of public access), and a user rule
  # to the same destination fails (https://github.com/Azure/azureml-examples/pull/2990, review of
  # workspace-managed-network.ipynb): add only what AML does not (tests/infra/test_release_blockers.py).
  # https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#list-of-required-rules
  aml_required_storage_targets = var.managed_network_isolation_mode == "AllowOnlyApprovedOutbound" ? ["blob", "file"] : []
  private_endpoint_rules = {
    for name, rule in var.outbound_rules.private_endpoints : name => {
      type     = "PrivateEndpoint"
      category = "UserDefined"
      destination = {
        serviceResourceId = rule.resource_id
        subresourceTarget = rule.subresource_name
        sparkEnabled      = false
      }
    } if !(rule.resource_id == azurerm_storage_account.workspace.id && contains(local.aml_required_storage_targets, rule.subresource_name))
  }
  # FQDN rules exist only in AllowOnlyApprovedOutbound (they are served by a managed firewall);
  # AllowInternetOutbound already reaches the internet.
  fqdn_rules = {
    for name, fqdn in var.outbound_rules.fqdns : name => {
      type        = "FQDN"
      category    = "UserDefined"
      destination = fqdn
    } if var.managed_network_isolation_mode == "AllowOnlyApprovedOutbound"
  }
  outbound_rules = merge(local.private_endpoint_rules, local.fqdn_rules)
}

# Identity-based datastores: no account key or SAS is stored; jobs read the lake with the
# workspace or compute identity, which infra/main.rbac.tf grants Storage Blob Data Contributor.
resource "azurerm_machine_learning_datastore_datalake_gen2" "this" {
  for_each = var.data_lake_datastores

  name                  = each.key
  workspace_id          = azurerm_machine_learning_workspace.this.id
  storage_container_id  = each.value
  service_data_identity = "WorkspaceSystemAssignedIdentity"
  tags                  = var.tags
}

# The same lake containers again as AzureBlob datastores, for what AML writes: "Batch endpoints only
# support writing outputs in Blob Storage data stores"; an output on an ADLS Gen2 datastore fails the
# job. Data Factory's OutputData and the scoring deployment's default_datastore name these
# (infra/main.tf; CKV_FS_14 in src/stackctl/checks/wiring.py), the Gen2 datastores stay for inputs.
# https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs
# azurerm_machine_learning_datastore_blobstorage requires account_key or shared_access_signature and
# the lake has shared keys off, so the datastore is created through ARM: identity-based
# (credentialsType None), the workspace's identity for service-side access, as the Gen2 ones.
# The api-version is one every azapi release in the versions.tf range knows (azapi validates the body
# against the types it ships; a newer version could be unknown to an older azapi 2.x); the AzureBlob
# datastore body is the same in every GA version since 2022-05-01.
# https://learn.microsoft.com/azure/templates/microsoft.machinelearningservices/2024-04-01/workspaces/datastores
# https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/resources/machine_learning_datastore_blobstorage
resource "azapi_resource" "blob_datastore" {
  for_each = var.blob_datastores

  type      = "Microsoft.MachineLearningServices/workspaces/datastores@2024-04-01"
  name      = each.key
  parent_id = azurerm_machine_learning_workspace.this.id
  body = {
    properties = {
      datastoreType                 = "AzureBlob"
      accountName                   = each.value.account_name
      containerName                 = each.value.container_name
      endpoint                      = "core.windows.net"
      protocol                      = "https"
      credentials                   = { credentialsType = "None" }
      serviceDataAccessAuthIdentity = "WorkspaceSystemAssignedIdentity"
      tags                          = var.tags
    }
  }
}
