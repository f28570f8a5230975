# The stack's inputs. envs/dev/variables.tf and envs/prod/variables.tf are links to this file, so
# a bad value in a terraform.tfvars fails at the root with the rule it breaks, and the roots'
# declarations cannot drift from the stack's.

variable "environment" {
  type        = string
  nullable    = false
  description = "Which stack this is: dev (fed from main) or prod (fed from release/*)."

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be \"dev\" or \"prod\"."
  }
}

variable "location" {
  type        = string
  nullable    = false
  description = "Azure region of the whole stack, e.g. westeurope."

  validation {
    condition     = can(regex("^[a-z]+[a-z0-9]*$", var.location))
    error_message = "location must be an Azure region name in lowercase without spaces, e.g. westeurope."
  }
}

variable "location_short" {
  type        = string
  nullable    = false
  description = "Short region code used in resource names, e.g. weu."

  validation {
    condition     = can(regex("^[a-z]{2,4}[0-9]?$", var.location_short))
    error_message = "location_short must be 2-4 lowercase letters, optionally followed by one digit (e.g. weu, neu, eus2)."
  }
}

variable "workload" {
  type        = string
  default     = "fcst"
  nullable    = false
  description = "Workload code at the start of every name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,5}$", var.workload))
    error_message = "workload must be 2-6 lowercase letters and digits, starting with a letter (storage and Key Vault names leave no more room)."
  }
}

variable "name_suffix" {
  type        = string
  nullable    = false
  description = "Short suffix that makes globally unique names (storage, Key Vault, registry, SQL, Data Factory, endpoints) unique."

  validation {
    condition     = can(regex("^[a-z0-9]{2,4}$", var.name_suffix))
    error_message = "name_suffix must be 2-4 lowercase letters and digits."
  }
}

variable "tags" {
  type        = map(string)
  nullable    = false
  description = <<DESCRIPTION
Organisation tags on every resource, as tag name => value (infra/ adds `environment`,
`managed_by` and `workload`). Required keys:

- `owner` - (Required) The team that answers for the stack.
- `cost_centre` - (Required) The cost centre its spend is booked to.
- `data_classification` - (Required) `public`, `internal`, `confidential` or `restricted`.
DESCRIPTION

  validation {
    condition     = alltrue([for key in ["owner", "cost_centre", "data_classification"] : try(length(trimspace(var.tags[key])) > 0, false)])
    error_message = "tags must include non-empty owner, cost_centre and data_classification."
  }

  validation {
    condition     = contains(["public", "internal", "confidential", "restricted"], lookup(var.tags, "data_classification", ""))
    error_message = "tags.data_classification must be one of public, internal, confidential, restricted."
  }
}

variable "network" {
  type = object({
    enabled       = bool
    address_space = optional(list(string), [])
    subnets = optional(map(object({
      address_prefix = string
      delegation     = optional(string, null)
    })), {})
  })
  nullable    = false
  description = <<DESCRIPTION
The VNet for private endpoints (prod). When enabled, every data-plane service gets private
endpoints and DNS.

- `enabled` - (Required) Whether the VNet, the private endpoints and the private DNS zones exist.
- `address_space` - (Optional) The VNet's CIDR blocks; required when enabled.
- `subnets` - (Optional) Subnets by name; required when enabled: `private_endpoints` (no
  delegation) and `powerbi_gateway` (the Power BI VNet data gateway's,
  https://learn.microsoft.com/data-integration/vnet/create-data-gateways).
  - `address_prefix` - (Required) The subnet's CIDR block, inside `address_space`.
  - `delegation` - (Optional) The service the subnet is delegated to; `powerbi_gateway` needs
    `Microsoft.PowerPlatform/vnetaccesslinks`. null: none.
DESCRIPTION

  validation {
    condition     = !var.network.enabled || (length(var.network.address_space) > 0 && contains(keys(var.network.subnets), "private_endpoints") && contains(keys(var.network.subnets), "powerbi_gateway"))
    error_message = "an enabled network needs an address_space and subnets named private_endpoints and powerbi_gateway."
  }

  validation {
    condition     = !contains(keys(var.network.subnets), "powerbi_gateway") || try(var.network.subnets["powerbi_gateway"].delegation, null) == "Microsoft.PowerPlatform/vnetaccesslinks"
    error_message = "network.subnets.powerbi_gateway must be delegated to Microsoft.PowerPlatform/vnetaccesslinks, or the Power BI VNet data gateway cannot use it."
  }
}

variable "public_network_access_enabled" {
  type        = bool
  nullable    = false
  description = "Whether the data-plane services (lake, Key Vault, registry, SQL, workspace, factory) accept public traffic; off in prod."
}

variable "allowed_ip_ranges" {
  type        = set(string)
  default     = []
  nullable    = false
  description = "Public CIDR ranges (the team's egress) allowed through storage and Key Vault firewalls while public access is on."
}

variable "deployer_object_id" {
  type        = string
  nullable    = false
  description = <<DESCRIPTION
Object (principal) id of the identity that applies this stack and runs `stackctl deploy`: the
bootstrap output `deploying_identities.<env>.principal_id`, a service principal (its role
assignment states principal_type ServicePrincipal, which the bootstrap's RBAC Administrator
condition requires; a person's user id does not fit it). It gets the deploying identity's data role
on the workspace storage. An input, not `azurerm_client_config`: the plan is made by the read-only
plan identity, and a data source read at plan time would give the role to it.
DESCRIPTION

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.deployer_object_id))
    error_message = "deployer_object_id must be the deploying identity's object id (a lower-case GUID): terraform -chdir=envs/bootstrap output -json deploying_identities | jq -r .<env>.principal_id"
  }
}

variable "ci_runner_egress_ip" {
  type        = string
  default     = null
  description = <<DESCRIPTION
The static public egress address of this environment's own CI runner (envs/bootstrap output `ci_runners.dev.egress_ip`), as a bare
IPv4 address. Required while public access is on (dev): dev's plan, apply and deploy run on that
runner, and every dev firewall (lake, workspace storage, Key Vault, SQL) denies by default, so it is
added to each of them next to `allowed_ip_ranges`. Ignored when public access is off (prod reaches
the private endpoints from inside the peered VNet).
DESCRIPTION

  validation {
    condition     = var.ci_runner_egress_ip == null || can(regex("^(\\d{1,3}\\.){3}\\d{1,3}$", var.ci_runner_egress_ip)) && can(cidrhost("${var.ci_runner_egress_ip}/32", 0))
    error_message = "ci_runner_egress_ip must be a bare IPv4 address (the bootstrap output ci_runners.dev.egress_ip), without a prefix length."
  }

  validation {
    condition     = !var.public_network_access_enabled || var.ci_runner_egress_ip != null
    error_message = "ci_runner_egress_ip is not set, but public access is on: dev's plan, apply and deploy run on the CI runner and every firewall denies its address. Set ci_runner_egress_ip in envs/<env>/terraform.tfvars to the bootstrap output: terraform -chdir=envs/bootstrap output -json ci_runners | jq -r .dev.egress_ip (infra/README.md, First apply)."
  }
}

variable "ci_runner_subnet_id" {
  type        = string
  default     = null
  description = <<DESCRIPTION
The ARM id of this environment's own CI runner subnet (envs/bootstrap output `ci_runners.dev.subnet_id`).
Required while public access is on (dev): the runner subnet has a Microsoft.Storage.Global service
endpoint, so the runner's requests reach dev's lake and workspace storage from private VNet addresses
that `ci_runner_egress_ip` does not match; both storage firewalls admit this subnet by VNet rule.
Ignored when public access is off (prod reaches the private endpoints from inside the peered VNet).
https://learn.microsoft.com/azure/storage/common/storage-network-security-virtual-networks
DESCRIPTION

  validation {
    condition     = var.ci_runner_subnet_id == null || can(regex("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.Network/virtualNetworks/[^/]+/subnets/[^/]+$", var.ci_runner_subnet_id))
    error_message = "ci_runner_subnet_id must be a subnet's ARM id (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>): the bootstrap output ci_runners.dev.subnet_id."
  }

  validation {
    condition     = !var.public_network_access_enabled || var.ci_runner_subnet_id != null
    error_message = "ci_runner_subnet_id is not set, but public access is on: the runner subnet's storage service endpoint makes dev's lake and workspace storage see the runner from its VNet, not its egress IP, and refuse it (403). Set ci_runner_subnet_id in envs/<env>/terraform.tfvars to the bootstrap output: terraform -chdir=envs/bootstrap output -json ci_runners | jq -r .dev.subnet_id (infra/README.md, First apply)."
  }
}

variable "zone_redundant" {
  type        = bool
  nullable    = false
  description = "Zone redundancy where the service offers it (storage ZRS, registry, SQL database); on in prod."
}

variable "resource_locks_enabled" {
  type        = bool
  nullable    = false
  description = "CanNotDelete locks on the stateful resources (lake, Key Vault, workspace, SQL, factory, Log Analytics); on in prod."
}

variable "diagnostic_settings_enabled" {
  type        = bool
  default     = true
  nullable    = false
  description = "Send every resource's logs and metrics to Log Analytics."
}

variable "aml" {
  type = object({
    managed_network_isolation_mode = string
    node_public_ip_enabled         = bool
    gpu_vm_size                    = string
    gpu_max_nodes                  = number
    cpu_vm_size                    = string
    cpu_max_nodes                  = number
    vm_priority                    = string
    train_compute                  = optional(string, "gpu")
    train_instance_count           = optional(number, 1)
    train_processes_per_instance   = optional(number, 1)
    score_processes_per_instance   = optional(number, 1)
  })
  nullable    = false
  description = <<DESCRIPTION
Azure Machine Learning: the workspace's managed network and the compute clusters.

- `managed_network_isolation_mode` - (Required) `AllowInternetOutbound` (dev) or
  `AllowOnlyApprovedOutbound` (prod: only the outbound rules in infra/main.tf).
- `node_public_ip_enabled` - (Required) Whether cluster nodes get public IPs; false needs the
  managed network.
- `gpu_vm_size` - (Required) VM size of the training cluster; an N-series GPU size, e.g.
  `Standard_NC4as_T4_v3`.
- `gpu_max_nodes` - (Required) Most nodes of the training cluster (it scales to 0 when idle).
- `cpu_vm_size` - (Required) VM size of the CPU cluster (validate, evaluate, register, score,
  monitor) and of the image build cluster.
- `cpu_max_nodes` - (Required) Most nodes of the CPU cluster.
- `vm_priority` - (Required) `LowPriority` (dev: cheaper, may be evicted) or `Dedicated` (prod)
  for the GPU and CPU clusters; the image build cluster is always Dedicated.
- `train_compute` - (Optional) The cluster the distributed `train` step runs on: `gpu` or `cpu`
  (README "Choosing the training compute" gives the cost and time of each); default `gpu`. The
  step's torch.distributed backend follows the device: gloo on CPU, nccl on CUDA.
- `train_instance_count` - (Optional) Nodes of that cluster one training job uses (AML
  `resources.instance_count`), 1 to the cluster's `*_max_nodes`: AML refuses a job that asks a
  cluster for more nodes than its maximum; default 1.
- `train_processes_per_instance` - (Optional) Worker processes per node (AML PyTorch distribution
  `process_count_per_instance`; each process is one torch.distributed rank), >= 1; on `gpu`
  one process per GPU of `gpu_vm_size` (nccl binds one process to one GPU); default 1.
- `score_processes_per_instance` - (Optional) Worker processes of the distributed `score` step, on
  one node of the CPU cluster (rank 0 merges the parts the other ranks write into its own output
  folder, so the ranks share one node's file system), >= 1; default 1.
DESCRIPTION

  validation {
    condition     = contains(["LowPriority", "Dedicated"], var.aml.vm_priority)
    error_message = "aml.vm_priority must be LowPriority or Dedicated."
  }

  validation {
    condition     = can(regex("^Standard_N", var.aml.gpu_vm_size))
    error_message = "aml.gpu_vm_size must be a GPU (N-series) size, e.g. Standard_NC4as_T4_v3."
  }

  validation {
    condition     = contains(["cpu", "gpu"], var.aml.train_compute)
    error_message = "aml.train_compute must be \"cpu\" or \"gpu\" (lower case): the cluster the train step runs on."
  }

  validation {
    condition = alltrue([
      for count in [var.aml.gpu_max_nodes, var.aml.cpu_max_nodes, var.aml.train_instance_count, var.aml.train_processes_per_instance, var.aml.score_processes_per_instance] :
      count == floor(count) && count >= 1
    ])
    error_message = "aml.gpu_max_nodes, cpu_max_nodes, train_instance_count, train_processes_per_instance and score_processes_per_instance must be whole numbers >= 1."
  }

  # AML runs a job on instance_count nodes of one cluster and refuses a job that asks for more nodes
  # than the cluster's maximum ("Requested <n> nodes but AzureMLCompute cluster only has <m> maximum
  # nodes"); the publisher checks the same before it publishes (stackctl/aml/specs.py
  # `distributed_run`). https://learn.microsoft.com/azure/machine-learning/how-to-train-distributed-gpu
  validation {
    condition     = var.aml.train_instance_count <= (var.aml.train_compute == "gpu" ? var.aml.gpu_max_nodes : var.aml.cpu_max_nodes)
    error_message = "aml.train_instance_count must not exceed the max nodes of the cluster train_compute names (gpu_max_nodes or cpu_max_nodes): AML refuses a job that asks a cluster for more nodes than its maximum. Raise that *_max_nodes (and its quota, infra/README.md) or lower train_instance_count."
  }
}

variable "data_lake" {
  type = object({
    replication_type           = string
    soft_delete_retention_days = optional(number, 14)
    raw_cool_after_days        = optional(number, 30)
    raw_delete_after_days      = optional(number, 365)
  })
  nullable    = false
  description = <<DESCRIPTION
The Data Lake (ADLS Gen2) account of the `raw`, `conditioned` and `scored` file systems.

- `replication_type` - (Required) Storage redundancy: `LRS`, `ZRS`, `GRS`, `RAGRS`, `GZRS` or
  `RAGZRS`.
- `soft_delete_retention_days` - (Optional) Days a deleted blob or container stays recoverable;
  default 14.
- `raw_cool_after_days` - (Optional) Days after its last change a raw file moves to the cool
  tier; default 30.
- `raw_delete_after_days` - (Optional) Days after its last change a raw file is deleted;
  default 365.
DESCRIPTION
}

variable "sql" {
  type = object({
    entra_admin_login     = string
    entra_admin_object_id = string
    database_sku          = string
    defender_enabled      = bool
  })
  nullable    = false
  description = <<DESCRIPTION
The reporting database and its logical server (Entra-only authentication: no SQL login exists).

- `entra_admin_login` - (Required) Display name of the Entra group that administers the server.
- `entra_admin_object_id` - (Required) Object id of that group.
- `database_sku` - (Required) The database SKU, e.g. `S0` (dev) or `GP_Gen5_2` (prod; zone
  redundancy needs General Purpose, Business Critical, Hyperscale or Premium).
- `defender_enabled` - (Required) Whether Defender for SQL's threat detection is on; its alerts
  e-mail the account admins and `monitoring.alert_email_receivers`.
DESCRIPTION
}

variable "powerbi" {
  type = object({
    group_display_name = string
    group_object_id    = string
    firewall_rules = optional(map(object({
      start_ip_address = string
      end_ip_address   = string
    })), {})
  })
  nullable    = false
  description = <<DESCRIPTION
What Power BI reads the reporting schema as, and from where.

- `group_display_name` - (Required) Display name of the Entra group whose members read the
  reporting views (a contained database user).
- `group_object_id` - (Required) Object id of that group.
- `firewall_rules` - (Optional) While public access is on, the IP ranges Power BI connects from,
  by rule name; default none.
  - `start_ip_address` - (Required) First IPv4 address of the range.
  - `end_ip_address` - (Required) Last IPv4 address of the range.
DESCRIPTION
}

variable "schedules" {
  type = object({
    time_zone          = string
    training_cron      = string
    scoring_cron       = string
    adf_trigger_active = bool
  })
  nullable    = false
  description = <<DESCRIPTION
When the weekly work runs.

- `time_zone` - (Required) Windows time zone of the schedules and the ADF trigger, e.g.
  `W. Europe Standard Time`.
- `training_cron` - (Required) Five-field cron of the AML training schedule (stackctl deploy).
- `scoring_cron` - (Required) Five-field cron of the AML scoring schedule (stackctl deploy).
- `adf_trigger_active` - (Required) Whether the factory's weekly schedule trigger is started.
DESCRIPTION

  validation {
    condition     = alltrue([for cron in [var.schedules.training_cron, var.schedules.scoring_cron] : length(split(" ", cron)) == 5])
    error_message = "schedules.training_cron and scoring_cron must be five-field cron expressions, e.g. \"0 5 * * 1\"."
  }
}

variable "monitoring" {
  type = object({
    retention_in_days     = number
    alert_email_receivers = optional(map(string), {})
    mape_threshold        = optional(number, 0.45)
    stale_after_days      = optional(number, 60)
  })
  nullable    = false
  description = <<DESCRIPTION
Logs, alerts and the model-quality thresholds the alerts watch.

- `retention_in_days` - (Required) Days Log Analytics keeps data (30 to 730).
- `alert_email_receivers` - (Optional) Who the alerts e-mail, as receiver name => address; also
  the SQL security alerts' recipients. Default none.
- `mape_threshold` - (Optional) A model whose MAPE exceeds this raises an alert; default 0.45.
- `stale_after_days` - (Optional) A model trained longer ago than this raises an alert;
  default 60.
DESCRIPTION
}

variable "ci_runner_network" {
  type = object({
    resource_group_name  = string
    virtual_network_name = string
  })
  default     = null
  description = <<DESCRIPTION
The release pipeline's runner VNet (envs/bootstrap, modules/ci_runner), peered with the stack's
VNet and linked to every private DNS zone, so the runner reaches the private endpoints; null (dev)
when the pipeline runs on hosted runners. Needs `network.enabled`.

- `resource_group_name` - (Required) Resource group of the runner VNet.
- `virtual_network_name` - (Required) Name of the runner VNet.
DESCRIPTION

  validation {
    condition     = var.ci_runner_network == null || var.network.enabled
    error_message = "ci_runner_network needs network.enabled = true: there is no VNet to peer with otherwise."
  }
}
