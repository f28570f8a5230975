data "azurerm_client_config" "current" {}

# The stack's resource group belongs to the bootstrap (envs/bootstrap creates it and scopes the
# deploying identity's roles to it); the stack only reads it, so one state owns it and a stack
# destroy never deletes the group, the deployer's role assignments on it, or anything else in it
# (issue 22 item 13; tests/infra/test_release_blockers.py). The precondition still refuses a name
# that breaks the naming convention at plan time.
data "azurerm_resource_group" "this" {
  name = local.names.resource_group

  lifecycle {
    precondition {
      condition     = length(local.naming_violations) == 0
      error_message = "The naming convention produced invalid names: ${join("; ", local.naming_violations)}. Shorten workload, location_short or name_suffix."
    }
  }
}

locals {
  private_network = var.network.enabled
  pe_subnet_id    = local.private_network ? module.network[0].subnet_ids["private_endpoints"] : null
  dns_zone_ids    = local.private_network ? module.network[0].private_dns_zone_ids : {}

  # One private endpoint definition per Private Link group, reused by each module that needs it.
  private_endpoint = {
    for group, zones in local.private_dns_zones_by_group : group => {
      subnet_resource_id            = local.pe_subnet_id
      subresource_name              = group
      private_dns_zone_resource_ids = [for zone in zones : lookup(local.dns_zone_ids, zone, null) if lookup(local.dns_zone_ids, zone, null) != null]
    }
  }
  private_dns_zones_by_group = {
    blob         = ["privatelink.blob.core.windows.net"]
    dfs          = ["privatelink.dfs.core.windows.net"]
    file         = ["privatelink.file.core.windows.net"]
    queue        = ["privatelink.queue.core.windows.net"]
    table        = ["privatelink.table.core.windows.net"]
    vault        = ["privatelink.vaultcore.azure.net"]
    registry     = ["privatelink.azurecr.io"]
    sqlServer    = ["privatelink.database.windows.net"]
    amlworkspace = ["privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"]
  }

  # `cond ? { k = {...} } : {}` is a type error in Terraform (the two objects differ), so optional
  # maps are built with a filtering for-expression instead.
  diagnostic_settings = {
    for name, setting in { log_analytics = { workspace_resource_id = module.monitoring.resource_id } } :
    name => setting if var.diagnostic_settings_enabled
  }

  endpoints = {
    training = {
      name       = local.names.training_endpoint
      invoke_uri = "https://${local.names.training_endpoint}.${var.location}.inference.ml.azure.com/jobs"
    }
    scoring = {
      name       = local.names.scoring_endpoint
      invoke_uri = "https://${local.names.scoring_endpoint}.${var.location}.inference.ml.azure.com/jobs"
    }
  }
  datastore_names = { for fs in ["raw", "conditioned", "scored"] : fs => "lake_${fs}" }
  # What AML writes to (Data Factory's OutputData, the scoring deployment's default_datastore): the
  # lake file systems again as AzureBlob datastores, since batch endpoints write outputs only to
  # Blob Storage datastores; the Gen2 ones above stay for inputs. (CKV_FS_14)
  # https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs
  output_datastore_names = { for fs in ["conditioned", "scored"] : fs => "lake_${fs}_blob" }
  # Every firewall of a public stack (lake, workspace storage, Key Vault, SQL) admits the named ranges
  # and the CI runner, where dev's plan, apply and deploy run (var.ci_runner_egress_ip, required
  # while public access is on).
  allowed_ip_ranges = setunion(var.allowed_ip_ranges, var.ci_runner_egress_ip == null ? [] : ["${var.ci_runner_egress_ip}/32"])
  # Storage firewalls take a single address bare: Azure Storage refuses /31 and /32 prefixes in IP
  # rules (and azurerm's check allows 0-30), Key Vault takes /32, SQL takes first and last address.
  # https://learn.microsoft.com/azure/storage/common/storage-network-security-limitations
  storage_ip_rules = [for cidr in local.allowed_ip_ranges : trimsuffix(cidr, "/32")]
  # The runner subnet carries a Microsoft.Storage.Global service endpoint (envs/bootstrap), so its
  # requests reach storage from private VNet addresses that no IP rule matches: the lake and the
  # workspace storage admit it by VNet rule. SQL and Key Vault keep the egress IP above.
  # https://learn.microsoft.com/azure/storage/common/storage-network-security-virtual-networks
  storage_subnet_ids = var.ci_runner_subnet_id == null ? [] : [var.ci_runner_subnet_id]
  # SQL firewall rules take first and last address, not CIDR.
  allowed_ip_firewall_rules = {
    for cidr in local.allowed_ip_ranges : "allowed-${replace(cidr, "/[./]/", "-")}" => {
      start_ip_address = cidrhost(strcontains(cidr, "/") ? cidr : "${cidr}/32", 0)
      end_ip_address   = cidrhost(strcontains(cidr, "/") ? cidr : "${cidr}/32", -1)
    }
  }
  # The cluster that builds environment images inside the managed network (the registry is
  # private in prod, so ACR Tasks cannot build). Named here so the workspace can point at it
  # without depending on the cluster resource.
  image_build_cluster = "${local.names.compute_prefix}-build"
}

# Application (client) ids of the system-assigned identities that get SQL contained users: SQL
# creates them `WITH SID = <client id>, TYPE = E`, which needs no directory lookup, so the SQL
# server's identity needs no Directory Readers role. azurerm exposes only the principal (object)
# id; the identity's own ARM resource `<resource>/providers/Microsoft.ManagedIdentity/identities/default`
# carries the client id.
# https://learn.microsoft.com/sql/t-sql/statements/create-user-transact-sql?view=azuresqldb-current#create-a-user-for-a-microsoft-entra-principal-without-using-a-directory-lookup
data "azapi_resource" "system_identity" {
  for_each = {
    aml = module.aml_workspace.resource_id
    adf = module.data_factory.resource_id
    # The jobs' identity is user-assigned (main.identity.tf): its client id is an attribute there.
  }

  type                   = "Microsoft.ManagedIdentity/identities@2023-01-31"
  resource_id            = "${each.value}/providers/Microsoft.ManagedIdentity/identities/default"
  response_export_values = ["properties.clientId"]
}

module "network" {
  source = "../modules/network"
  count  = var.network.enabled ? 1 : 0

  name                = local.names.vnet
  location            = var.location
  resource_group_name = data.azurerm_resource_group.this.name
  address_space       = var.network.address_space
  subnets             = var.network.subnets
  private_dns_zones   = toset(flatten(values(local.private_dns_zones_by_group)))
  diagnostic_settings = local.diagnostic_settings
  tags                = local.tags
}

module "monitoring" {
  source = "../modules/monitoring"

  name                      = local.names.log_analytics
  application_insights_name = local.names.application_insights
  location                  = var.location
  resource_group_name       = data.azurerm_resource_group.this.name
  retention_in_days         = var.monitoring.retention_in_days
  alert_email_receivers     = var.monitoring.alert_email_receivers
  alerts = {
    enabled          = true
    mape_threshold   = var.monitoring.mape_threshold
    stale_after_days = var.monitoring.stale_after_days
  }
  tags = local.tags
}

module "key_vault" {
  source = "../modules/key_vault"

  name                          = local.names.key_vault
  location                      = var.location
  resource_group_name           = data.azurerm_resource_group.this.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  public_network_access_enabled = var.public_network_access_enabled
  allowed_ip_ranges             = local.allowed_ip_ranges
  private_endpoints             = { for group in ["vault"] : group => local.private_endpoint[group] if local.private_network }
  diagnostic_settings           = local.diagnostic_settings
  tags                          = local.tags
}

module "data_lake" {
  source = "../modules/data_lake"

  name                          = local.names.data_lake
  location                      = var.location
  resource_group_name           = data.azurerm_resource_group.this.name
  replication_type              = var.data_lake.replication_type
  soft_delete_retention_days    = var.data_lake.soft_delete_retention_days
  public_network_access_enabled = var.public_network_access_enabled
  allowed_ip_ranges             = local.storage_ip_rules
  allowed_subnet_ids            = local.storage_subnet_ids
  resource_access_rules = {
    workspace = module.aml_workspace.resource_id
    factory   = module.data_factory.resource_id
  }
  raw_lifecycle = {
    cool_after_days   = var.data_lake.raw_cool_after_days
    delete_after_days = var.data_lake.raw_delete_after_days
  }
  private_endpoints   = { for group in ["blob", "dfs"] : group => local.private_endpoint[group] if local.private_network }
  diagnostic_settings = local.diagnostic_settings
  tags                = local.tags
}

module "aml_workspace" {
  source = "../modules/aml_workspace"

  name                           = local.names.aml_workspace
  location                       = var.location
  resource_group_name            = data.azurerm_resource_group.this.name
  storage_account_name           = local.names.aml_storage
  container_registry_name        = local.names.container_registry
  key_vault_id                   = module.key_vault.resource_id
  application_insights_id        = module.monitoring.application_insights_id
  public_network_access_enabled  = var.public_network_access_enabled
  allowed_ip_ranges              = local.storage_ip_rules
  allowed_subnet_ids             = local.storage_subnet_ids
  managed_network_isolation_mode = var.aml.managed_network_isolation_mode
  image_build_compute_name       = local.image_build_cluster
  zone_redundant                 = var.zone_redundant
  outbound_rules = {
    # Every private resource a job reads or writes: the lake (both APIs), SQL (scores), and the
    # workspace's own storage. AML adds rules to the workspace's storage by itself only where its
    # public access is disabled, yet the storage firewall denies by default in every stack, and batch
    # endpoints need its queue and table too
    # (https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#list-of-required-rules,
    # https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#scenario-use-batch-endpoints-or-parallelrunstep).
    # In AllowOnlyApprovedOutbound AML creates the workspace storage's blob and file rules itself;
    # the module leaves those two out there (modules/aml_workspace, local.private_endpoint_rules).
    private_endpoints = {
      lake-blob     = { resource_id = module.data_lake.resource_id, subresource_name = "blob" }
      lake-dfs      = { resource_id = module.data_lake.resource_id, subresource_name = "dfs" }
      sql           = { resource_id = module.sql.resource_id, subresource_name = "sqlServer" }
      wsstore-blob  = { resource_id = module.aml_workspace.storage_account_id, subresource_name = "blob" }
      wsstore-file  = { resource_id = module.aml_workspace.storage_account_id, subresource_name = "file" }
      wsstore-queue = { resource_id = module.aml_workspace.storage_account_id, subresource_name = "queue" }
      wsstore-table = { resource_id = module.aml_workspace.storage_account_id, subresource_name = "table" }
    }
    # What the image build downloads (src/stackctl/aml/runtime.Dockerfile): torch's CPU and CUDA
    # 12.8 indexes, the Python package index, and Microsoft's apt repository for the ODBC driver the
    # publish step uses. mcr.microsoft.com is among AML's required rules already. No Docker Hub
    # host: `stackctl deploy` imports each base image into the workspace's own registry
    # (src/stackctl/aml/base_image.py) and the build's FROM names that copy, which the build reaches
    # through the registry's private endpoint (AML's required rules), so a Docker Hub rule would only
    # widen prod's egress (tests/infra/test_image_build_egress.py).
    fqdns = {
      pypi          = "pypi.org"
      pythonhosted  = "files.pythonhosted.org"
      pytorch       = "download.pytorch.org"
      microsoft-apt = "packages.microsoft.com"
      # apt-get update reads the base distribution's own mirror too (both images are Debian
      # bookworm), and unixodbc comes from it
      # (https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#scenario-use-custom-docker-images).
      debian = "deb.debian.org"
    }
  }
  # The workspace identity may approve the private endpoints the rules create (main.rbac.tf), once
  # its approver role has taken effect (time_sleep.network_approver_propagation).
  outbound_rules_after = [time_sleep.network_approver_propagation.id]
  data_lake_datastores = { for fs, datastore in local.datastore_names : datastore => module.data_lake.file_system_container_ids[fs] }
  blob_datastores      = { for fs, datastore in local.output_datastore_names : datastore => { account_name = module.data_lake.name, container_name = module.data_lake.file_systems[fs] } }
  private_endpoints    = { for group in ["amlworkspace"] : group => local.private_endpoint[group] if local.private_network }
  dependency_private_endpoints = {
    for group in ["blob", "file", "queue", "table", "registry"] : group => {
      subnet_resource_id            = local.pe_subnet_id
      private_dns_zone_resource_ids = local.private_endpoint[group].private_dns_zone_resource_ids
    } if local.private_network
  }
  diagnostic_settings = local.diagnostic_settings
  tags                = local.tags
}

module "aml_compute" {
  source = "../modules/aml_compute"

  name                          = local.names.compute_prefix
  location                      = var.location
  resource_group_name           = data.azurerm_resource_group.this.name
  machine_learning_workspace_id = module.aml_workspace.resource_id
  node_public_ip_enabled        = var.aml.node_public_ip_enabled
  # gpu and cpu run the jobs, as the jobs' user-assigned identity (main.identity.tf); the image
  # build cluster keeps its own system-assigned identity (it runs no job code).
  managed_identities = {
    system_assigned            = false
    user_assigned_resource_ids = [azurerm_user_assigned_identity.jobs.id]
  }
  clusters = {
    gpu = { vm_size = var.aml.gpu_vm_size, vm_priority = var.aml.vm_priority, max_node_count = var.aml.gpu_max_nodes, description = "training" }
    cpu = { vm_size = var.aml.cpu_vm_size, vm_priority = var.aml.vm_priority, max_node_count = var.aml.cpu_max_nodes, description = "validate, evaluate, register, score, monitor" }
    # Dedicated: an evicted image build would leave the environment half built.
    build = { vm_size = var.aml.cpu_vm_size, vm_priority = "Dedicated", max_node_count = 1, description = "environment image builds (workspace image_build_compute_name)", managed_identities = { system_assigned = true } }
  }
  tags = local.tags
}

module "sql" {
  source = "../modules/sql"

  name                = local.names.sql_server
  location            = var.location
  resource_group_name = data.azurerm_resource_group.this.name
  entra_administrator = {
    login_username = var.sql.entra_admin_login
    object_id      = var.sql.entra_admin_object_id
  }
  database_sku                  = var.sql.database_sku
  zone_redundant                = var.zone_redundant
  defender_enabled              = var.sql.defender_enabled
  security_alert_emails         = values(var.monitoring.alert_email_receivers)
  public_network_access_enabled = var.public_network_access_enabled
  log_analytics_workspace_id    = module.monitoring.resource_id
  contained_user_principals = {
    aml = { display_name = local.names.aml_workspace, client_id = data.azapi_resource.system_identity["aml"].output.properties.clientId }
    adf = { display_name = local.names.data_factory, client_id = data.azapi_resource.system_identity["adf"].output.properties.clientId }
    # The identity the jobs run as (the publish step writes the reporting tables as it).
    job     = { display_name = azurerm_user_assigned_identity.jobs.name, client_id = azurerm_user_assigned_identity.jobs.client_id }
    powerbi = { display_name = var.powerbi.group_display_name, object_id = var.powerbi.group_object_id, type = "X" }
  }
  private_endpoints   = { for group in ["sqlServer"] : group => local.private_endpoint[group] if local.private_network }
  diagnostic_settings = local.diagnostic_settings
  tags                = local.tags
}

module "powerbi_sources" {
  source = "../modules/powerbi_sources"

  name                = local.names.powerbi
  location            = var.location
  resource_group_name = data.azurerm_resource_group.this.name
  sql_server_id       = module.sql.resource_id
  sql_server_fqdn     = module.sql.server_fqdn
  database_name       = module.sql.database_name
  reporting_schema    = module.sql.reporting_schema
  powerbi_group = {
    display_name = var.powerbi.group_display_name
  }
  # Dev's SQL admits Power BI's named ranges and the named people and deployer ranges of the other
  # firewalls (local.allowed_ip_ranges: stackctl deploy creates the reporting schema from the CI
  # runner's egress IP, var.ci_runner_egress_ip).
  firewall_rules = var.public_network_access_enabled ? merge(var.powerbi.firewall_rules, local.allowed_ip_firewall_rules) : {}
  # The VNet data gateway's delegated subnet (prod); it reaches SQL through modules/sql's one
  # private endpoint, so Power BI adds no endpoint of its own.
  gateway_subnet_id = local.private_network ? module.network[0].subnet_ids["powerbi_gateway"] : null
  tags              = local.tags
}

module "data_factory" {
  source = "../modules/data_factory"

  name                = local.names.data_factory
  location            = var.location
  resource_group_name = data.azurerm_resource_group.this.name
  data_lake = {
    resource_id  = module.data_lake.resource_id
    dfs_endpoint = module.data_lake.dfs_endpoint
  }
  sql = {
    server_id     = module.sql.resource_id
    server_fqdn   = module.sql.server_fqdn
    database_name = module.sql.database_name
  }
  key_vault_id = module.key_vault.resource_id
  aml = {
    workspace_id        = module.aml_workspace.resource_id
    training_invoke_uri = local.endpoints.training.invoke_uri
    scoring_invoke_uri  = local.endpoints.scoring.invoke_uri
    input_data_uri      = "azureml://datastores/${local.datastore_names.conditioned}/paths/weekly/"
    # OutputData targets: AzureBlob datastores (batch endpoints write to no other kind; CKV_FS_14).
    datastores = local.output_datastore_names
  }
  schedule = {
    activated = var.schedules.adf_trigger_active
    time_zone = var.schedules.time_zone
  }
  managed_virtual_network_enabled = true
  public_network_enabled          = var.public_network_access_enabled
  diagnostic_settings             = local.diagnostic_settings
  tags                            = local.tags
}
