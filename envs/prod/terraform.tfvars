# prod: fed from release/*. Private endpoints only, dedicated A100 GPUs, zone redundancy,
# CanNotDelete locks, the ADF trigger started.
environment    = "prod"
location       = "westeurope"
location_short = "weu"
workload       = "fcst"
name_suffix    = "p01"

tags = {
  owner               = "demand-forecasting-team"
  cost_centre         = "cc-4711"
  data_classification = "confidential"
}

network = {
  enabled       = true
  address_space = ["10.40.0.0/22"]
  subnets = {
    # AML compute runs in the workspace's managed network, so only private endpoints need a subnet,
    # plus the Power BI VNet data gateway's, delegated to it (reaches SQL's private endpoint).
    private_endpoints = { address_prefix = "10.40.0.0/24" }
    powerbi_gateway   = { address_prefix = "10.40.1.0/27", delegation = "Microsoft.PowerPlatform/vnetaccesslinks" }
  }
}

public_network_access_enabled = false
allowed_ip_ranges             = []
# No public access: the runner reaches prod's private endpoints from the peered VNet.
ci_runner_egress_ip         = null
ci_runner_subnet_id         = null
zone_redundant              = true
resource_locks_enabled      = true
diagnostic_settings_enabled = true

aml = {
  managed_network_isolation_mode = "AllowOnlyApprovedOutbound"
  node_public_ip_enabled         = false
  gpu_vm_size                    = "Standard_NC24ads_A100_v4"
  gpu_max_nodes                  = 4
  cpu_vm_size                    = "Standard_DS4_v2"
  cpu_max_nodes                  = 4
  vm_priority                    = "Dedicated"
  # The distributed train step: which cluster, nodes per job, processes per node (README, "Choosing
  # the training compute", gives the cost and time of CPU and GPU at 14, 140 and 1,400 regions).
  train_compute                = "cpu"
  train_instance_count         = 2
  train_processes_per_instance = 4
  # The distributed score step: processes on one node of the CPU cluster.
  score_processes_per_instance = 4
}

data_lake = {
  replication_type           = "ZRS"
  soft_delete_retention_days = 30
  raw_cool_after_days        = 30
  raw_delete_after_days      = 365
}

sql = {
  entra_admin_login     = "sg-fcst-sql-admins-prod"
  entra_admin_object_id = "33333333-3333-4333-8333-333333333333"
  # General Purpose (vCore): zone redundancy needs GP, BC, Hyperscale or Premium, never S*.
  database_sku     = "GP_Gen5_2"
  defender_enabled = true
}

powerbi = {
  group_display_name = "sg-fcst-powerbi-prod"
  group_object_id    = "44444444-4444-4444-8444-444444444444"
  firewall_rules     = {}
}

schedules = {
  time_zone          = "W. Europe Standard Time"
  training_cron      = "0 4 * * 1"
  scoring_cron       = "0 6 * * 1"
  adf_trigger_active = true
}

monitoring = {
  retention_in_days     = 90
  alert_email_receivers = { team = "forecast-team@example.com", oncall = "forecast-oncall@example.com" }
  mape_threshold        = 0.45
  stale_after_days      = 60
}

# The release pipeline's runner VNet, created by envs/bootstrap (its outputs name it).
ci_runner_network = {
  resource_group_name  = "rg-fcst-bootstrap-weu"
  virtual_network_name = "vnet-fcst-ci-weu"
}

# The deploying identity's object id (gets its data role on the workspace storage; never read from
# azurerm_client_config, which in CI is the plan identity): the bootstrap output
# `terraform -chdir=envs/bootstrap output -json deploying_identities | jq -r .prod.principal_id`.
deployer_object_id = "66666666-6666-4666-8666-666666666666"
