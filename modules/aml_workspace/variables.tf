variable "name" {
  type        = string
  nullable    = false
  description = "AML workspace name: 3-33 letters, digits, hyphens and underscores, starting with a letter or digit."

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$", var.name))
    error_message = "AML workspace names are 3-33 letters, digits, hyphens and underscores, starting with a letter or digit."
  }
}

variable "location" {
  type        = string
  nullable    = false
  description = "Azure region of every resource in this module, e.g. westeurope."
}

variable "resource_group_name" {
  type        = string
  nullable    = false
  description = "Resource group that holds this module's resources."
}

variable "storage_account_name" {
  type        = string
  nullable    = false
  description = "Name of the workspace's own storage account (artifacts, snapshots): 3-24 lowercase letters and digits."

  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.storage_account_name))
    error_message = "storage_account_name must be 3-24 lowercase letters and digits."
  }
}

variable "container_registry_name" {
  type        = string
  nullable    = false
  description = "Name of the workspace's container registry (environment images): 5-50 letters and digits."

  validation {
    condition     = can(regex("^[a-zA-Z0-9]{5,50}$", var.container_registry_name))
    error_message = "container_registry_name must be 5-50 letters and digits."
  }
}

variable "key_vault_id" {
  type        = string
  nullable    = false
  description = "ARM id of the Key Vault the workspace uses."
}

variable "application_insights_id" {
  type        = string
  nullable    = false
  description = "ARM id of the workspace-based Application Insights."
}

variable "public_network_access_enabled" {
  type        = bool
  default     = false
  nullable    = false
  description = "Whether the workspace, its storage and registry accept public traffic; prod turns it off."
}

variable "managed_network_isolation_mode" {
  type        = string
  default     = "AllowOnlyApprovedOutbound"
  nullable    = false
  description = "Managed network of the workspace: AllowInternetOutbound (dev) or AllowOnlyApprovedOutbound (prod). Both reach the lake and SQL through the private-endpoint outbound rules (var.outbound_rules); Disabled is not offered because the firewalls deny by default."

  validation {
    condition     = contains(["AllowInternetOutbound", "AllowOnlyApprovedOutbound"], var.managed_network_isolation_mode)
    error_message = "managed_network_isolation_mode must be AllowInternetOutbound or AllowOnlyApprovedOutbound: with Disabled, jobs would have no private endpoint to the deny-by-default lake and SQL."
  }
}

variable "allowed_ip_ranges" {
  type        = list(string)
  default     = []
  nullable    = false
  description = "Named public IP ranges (CIDR) of the people and CI that upload code snapshots to the workspace storage while public access is on (dev); the firewall denies everything else."

  # Azure Storage refuses /31 and /32 prefixes in IP rules: a single address goes bare.
  # https://learn.microsoft.com/azure/storage/common/storage-network-security-limitations
  validation {
    condition     = alltrue([for range in var.allowed_ip_ranges : !can(regex("/3[12]$", range))])
    error_message = "allowed_ip_ranges: a storage firewall takes a single address without a prefix (\"198.51.100.20\", not \"198.51.100.20/32\"); Azure Storage refuses /31 and /32 in IP rules."
  }
}

variable "allowed_subnet_ids" {
  type        = set(string)
  default     = []
  nullable    = false
  description = "ARM ids of subnets admitted by VNet rule while public access is on (dev's CI runner subnet, whose Microsoft.Storage.Global service endpoint makes its requests arrive from private VNet addresses, which no IP rule matches)."
}

variable "container_registry_sku" {
  type        = string
  default     = "Premium"
  nullable    = false
  description = "SKU of the workspace's registry. Only Premium offers what this module sets: private endpoints, public access off, zone redundancy, dedicated data endpoints and a retention policy (validated; CKV_FS_8)."

  # https://learn.microsoft.com/azure/container-registry/container-registry-skus
  validation {
    condition     = var.container_registry_sku == "Premium"
    error_message = "container_registry_sku must be Premium: the registry always has dedicated data endpoints and a retention policy, and in prod a private endpoint and zone redundancy, which Basic and Standard do not offer."
  }
}

variable "image_build_compute_name" {
  type        = string
  default     = null
  description = "Compute cluster that builds environment images. Required with AllowOnlyApprovedOutbound: ACR Tasks cannot reach a private registry (validated)."

  validation {
    condition     = var.managed_network_isolation_mode != "AllowOnlyApprovedOutbound" || var.image_build_compute_name != null
    error_message = "image_build_compute_name is required when managed_network_isolation_mode is AllowOnlyApprovedOutbound: the registry is private, so images must build on a cluster in the managed network (https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#configure-image-builds)."
  }
}

variable "outbound_rules" {
  type = object({
    private_endpoints = optional(map(object({
      resource_id      = string
      subresource_name = string
    })), {})
    fqdns = optional(map(string), {})
  })
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
User-defined outbound rules of the workspace's managed network
(https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#configure-a-managed-virtual-network-to-allow-only-approved-outbound).

- `private_endpoints` - (Optional) Private endpoints from the managed network to each private
  resource jobs read or write (the lake's blob and dfs, the SQL server), by rule name.
  - `resource_id` - (Required) ARM id of the target resource.
  - `subresource_name` - (Required) Its Private Link group: `blob`, `dfs`, `file`, `queue`,
    `table`, `sqlServer`, `vault`, `registry` or `amlworkspace` (AML's managed network takes
    these targets: how-to-managed-network, "Private endpoints"; the rules are written through ARM,
    not azurerm's outbound-rule resource, whose enum lacks `sqlServer` and `registry`).
- `fqdns` - (Optional) Destination FQDNs by rule name, applied only in
  `AllowOnlyApprovedOutbound` (what the image build downloads from, e.g. `pypi.org`).
DESCRIPTION

  validation {
    condition     = alltrue([for rule in values(var.outbound_rules.private_endpoints) : contains(["blob", "dfs", "file", "queue", "table", "sqlServer", "vault", "registry", "amlworkspace"], rule.subresource_name)])
    error_message = "outbound_rules.private_endpoints.*.subresource_name must be a Private Link group such as blob, dfs or sqlServer."
  }
}

variable "managed_network_firewall_sku" {
  type        = string
  default     = "Basic"
  nullable    = false
  description = "SKU of the Azure Firewall AML deploys when FQDN rules exist (AllowOnlyApprovedOutbound): `Basic` or `Standard` (https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#select-an-azure-firewall-version)."

  validation {
    condition     = contains(["Basic", "Standard"], var.managed_network_firewall_sku)
    error_message = "managed_network_firewall_sku must be Basic or Standard (ARM FirewallSku, case-sensitive)."
  }
}

variable "outbound_rules_after" {
  type        = list(string)
  default     = []
  nullable    = false
  description = "Ids the outbound rules must be written after: the workspace identity's private-endpoint approver role assignment(s), so AML can approve the endpoints it creates (https://learn.microsoft.com/azure/machine-learning/how-to-managed-network)."
}

variable "zone_redundant" {
  type        = bool
  default     = true
  nullable    = false
  description = "Zone redundancy for the workspace storage and registry (prod)."
}

variable "data_lake_datastores" {
  type        = map(string)
  default     = {}
  nullable    = false
  description = "Datastores to create, as datastore name => ARM id of a Data Lake file system (blob container); access is identity-based."
}

variable "blob_datastores" {
  type = map(object({
    account_name   = string
    container_name = string
  }))
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
AzureBlob datastores to create, as datastore name => the storage account and container; access is
identity-based. AML output targets (batch endpoint outputs, a deployment's default_datastore) must be
Blob Storage datastores (https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs).

- `account_name` - (Required) Name of the storage account.
- `container_name` - (Required) Name of the blob container (a Data Lake file system).
DESCRIPTION
}

# --- AVM interface variables: the same names and shapes in every module ---

variable "tags" {
  type        = map(string)
  nullable    = false
  description = "Tags applied to every resource this module creates: environment, owner, cost_centre and data_classification are required (infra/ sets them)."

  validation {
    condition     = alltrue([for key in ["environment", "owner", "cost_centre", "data_classification"] : contains(keys(var.tags), key)])
    error_message = "tags must include environment, owner, cost_centre and data_classification."
  }
}

variable "diagnostic_settings" {
  type = map(object({
    name                  = optional(string, null)
    log_categories        = optional(set(string), [])
    log_groups            = optional(set(string), ["allLogs"])
    metric_categories     = optional(set(string), ["AllMetrics"])
    workspace_resource_id = string
    # Resource-specific tables (ADFPipelineRun, ...) are what the alert queries read.
    log_analytics_destination_type = optional(string, "Dedicated")
  }))
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
Diagnostic settings sending the main resource's logs and metrics to Log Analytics, by an arbitrary key
known at plan time.

- `name` - (Optional) Name of the setting; null: `diag-<name>`.
- `log_categories` - (Optional) Log categories to send, by name; default none.
- `log_groups` - (Optional) Log category groups to send; default `["allLogs"]`.
- `metric_categories` - (Optional) Metric categories to send; default `["AllMetrics"]`.
- `workspace_resource_id` - (Required) ARM id of the Log Analytics workspace that receives them.
- `log_analytics_destination_type` - (Optional) `Dedicated` (resource-specific tables, what the
  alert queries read) or `AzureDiagnostics` (the legacy shared table); default `Dedicated`.
DESCRIPTION

  validation {
    condition     = alltrue([for setting in values(var.diagnostic_settings) : contains(["Dedicated", "AzureDiagnostics"], setting.log_analytics_destination_type)])
    error_message = "diagnostic_settings.*.log_analytics_destination_type must be \"Dedicated\" or \"AzureDiagnostics\"."
  }
}

variable "private_endpoints" {
  type = map(object({
    name                          = optional(string, null)
    subnet_resource_id            = string
    subresource_name              = string
    private_dns_zone_resource_ids = optional(set(string), [])
  }))
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
Private endpoints on the main resource (prod), by an arbitrary key known at plan time.

- `name` - (Optional) Name of the endpoint; null: `pep-<name>-<key>`.
- `subnet_resource_id` - (Required) ARM id of the subnet the endpoint's network interface joins.
- `subresource_name` - (Required) The Private Link group (sub-resource) to reach: `blob`, `dfs`,
  `vault`, `sqlServer`, `amlworkspace`, ...
- `private_dns_zone_resource_ids` - (Optional) ARM ids of the private DNS zones that get the
  endpoint's A records (a DNS zone group named `default`); empty: no zone group.
DESCRIPTION
}

variable "dependency_private_endpoints" {
  type = map(object({
    subnet_resource_id            = string
    private_dns_zone_resource_ids = optional(set(string), [])
  }))
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
Private endpoints of the workspace's own storage and registry (prod), by Private Link group:
`blob`, `file`, `queue` and `table` (all four, or none: batch endpoints use the queue and table
services) and `registry`.

- `subnet_resource_id` - (Required) ARM id of the subnet the endpoint joins.
- `private_dns_zone_resource_ids` - (Optional) ARM ids of the private DNS zones that get its A
  records; empty: no DNS zone group.
DESCRIPTION

  validation {
    condition     = alltrue([for key in keys(var.dependency_private_endpoints) : contains(["blob", "file", "queue", "table", "registry"], key)])
    error_message = "dependency_private_endpoints keys must be blob, file, queue, table or registry."
  }

  validation {
    condition     = length(var.dependency_private_endpoints) == 0 || alltrue([for key in ["blob", "file", "queue", "table"] : contains(keys(var.dependency_private_endpoints), key)])
    error_message = "a private workspace storage needs private endpoints for all of blob, file, queue and table: batch endpoints use the queue and table services (https://learn.microsoft.com/azure/machine-learning/how-to-secure-batch-endpoint)."
  }
}
