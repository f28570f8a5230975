# dev: fed from main. Public endpoints (behind firewalls and Entra auth), low-priority T4 GPUs,
# no locks, the ADF trigger stopped (runs start by hand or from CI).
environment    = "dev"
location       = "westeurope"
location_short = "weu"
workload       = "fcst"
name_suffix    = "d01"

tags = {
  owner               = "demand-forecasting-team"
  cost_centre         = "cc-4711"
  data_classification = "internal"
}

network = {
  enabled = false
}

public_network_access_enabled = true
# The office range. Every dev firewall denies by default (README, "Release pipeline").
allowed_ip_ranges = ["203.0.113.0/24"]
# Dev's own CI runner's static egress IP, where dev's plan, apply and deploy run: the bootstrap output
# `terraform -chdir=envs/bootstrap output -json ci_runners | jq -r .dev.egress_ip` (infra/README.md, First
# apply). Required while public access is on; every firewall admits it.
ci_runner_egress_ip = "198.51.100.20"
# Dev's runner subnet: it has a storage service endpoint, so dev's lake and workspace storage admit it by
# VNet rule, not by the IP above: `terraform -chdir=envs/bootstrap output -json ci_runners | jq -r .dev.subnet_id`.
ci_runner_subnet_id         = "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/rg-fcst-bootstrap-weu/providers/Microsoft.Network/virtualNetworks/vnet-fcst-ci-dev-weu/subnets/runners"
zone_redundant              = false
resource_locks_enabled      = false
diagnostic_settings_enabled = true

aml = {
  managed_network_isolation_mode = "AllowInternetOutbound"
  node_public_ip_enabled         = true
  gpu_vm_size                    = "Standard_NC4as_T4_v3"
  gpu_max_nodes                  = 2
  cpu_vm_size                    = "Standard_DS3_v2"
  cpu_max_nodes                  = 2
  vm_priority                    = "LowPriority"
  # The distributed train step: which cluster, nodes per job, processes per node (README, "Choosing
  # the training compute", gives the cost and time of CPU and GPU at 14, 140 and 1,400 regions).
  train_compute                = "cpu"
  train_instance_count         = 1
  train_processes_per_instance = 2
  # The distributed score step: processes on one node of the CPU cluster.
  score_processes_per_instance = 2
}

data_lake = {
  replication_type           = "LRS"
  soft_delete_retention_days = 7
  raw_cool_after_days        = 30
  raw_delete_after_days      = 180
}

sql = {
  entra_admin_login     = "sg-fcst-sql-admins-dev"
  entra_admin_object_id = "11111111-1111-4111-8111-111111111111"
  database_sku          = "S0"
  defender_enabled      = false
}

powerbi = {
  group_display_name = "sg-fcst-powerbi-dev"
  group_object_id    = "22222222-2222-4222-8222-222222222222"
  # Named ranges only; Azure services come in through private endpoints, never a 0.0.0.0 rule.
  firewall_rules = {
    office = { start_ip_address = "203.0.113.0", end_ip_address = "203.0.113.255" }
  }
}

schedules = {
  time_zone          = "W. Europe Standard Time"
  training_cron      = "0 4 * * 1"
  scoring_cron       = "0 6 * * 1"
  adf_trigger_active = false
}

monitoring = {
  retention_in_days     = 30
  alert_email_receivers = { team = "forecast-team@example.com" }
  mape_threshold        = 0.45
  stale_after_days      = 60
}

# dev's endpoints are public: dev's runner reaches them from its static egress IP (ci_runner_egress_ip
# above), so no runner VNet is linked to dev's (absent) network.
ci_runner_network = null

# The deploying identity's object id (gets its data role on the workspace storage; never read from
# azurerm_client_config, which in CI is the plan identity): the bootstrap output
# `terraform -chdir=envs/bootstrap output -json deploying_identities | jq -r .dev.principal_id`.
deployer_object_id = "55555555-5555-4555-8555-555555555555"
