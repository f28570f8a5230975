variable "name" {
  type        = string
  nullable    = false
  description = "Prefix of the cluster names (each cluster is <name>-<key>, 3-24 characters in all)."

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,19}$", var.name))
    error_message = "the cluster name prefix must be 2-20 letters, digits and hyphens, starting with a letter."
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

variable "machine_learning_workspace_id" {
  type        = string
  nullable    = false
  description = "ARM id of the AML workspace the clusters belong to."
}

variable "clusters" {
  type = map(object({
    vm_size        = string
    vm_priority    = optional(string, "LowPriority")
    max_node_count = optional(number, 2)
    # Dedicated (prod) or LowPriority (dev; evictable, a separate quota).
    idle_before_scale_down = optional(string, "PT15M")
    description            = optional(string, null)
    # This cluster's own identity instead of var.managed_identities (e.g. the image-build cluster
    # keeps its system-assigned identity while the job clusters run as a user-assigned one).
    managed_identities = optional(object({
      system_assigned            = optional(bool, false)
      user_assigned_resource_ids = optional(set(string), [])
    }), null)
  }))
  nullable    = false
  description = <<DESCRIPTION
Compute clusters by purpose: `gpu` (training, e.g. `Standard_NC4as_T4_v3` in dev,
`Standard_NC24ads_A100_v4` in prod), `cpu` (validate, evaluate, register, score, monitor) and
`build` (environment image builds). All scale to 0 nodes when idle.

- `vm_size` - (Required) VM size of the nodes; one of the sizes in `local.vm_sizes`, whose quota
  family infra/README.md lists.
- `vm_priority` - (Optional) `LowPriority` (dev: evictable, the region's low-priority quota) or
  `Dedicated` (prod: the family's quota); default `LowPriority`.
- `max_node_count` - (Optional) Most nodes the cluster scales to, 1 to 100; default 2.
- `idle_before_scale_down` - (Optional) ISO 8601 duration a node idles before it is released;
  default `PT15M`.
- `description` - (Optional) What the cluster runs, shown in the workspace; default none.
- `managed_identities` - (Optional) This cluster's own identity instead of `var.managed_identities`
  (the image-build cluster keeps its system-assigned identity while the job clusters run as the
  user-assigned job identity); default none: `var.managed_identities`.
  - `system_assigned` - (Optional) Give this cluster its system-assigned identity; default `false`.
  - `user_assigned_resource_ids` - (Optional) Resource ids of its user-assigned identities (the
    first is the default identity its jobs run as); default none.
DESCRIPTION

  validation {
    condition     = alltrue([for cluster in values(var.clusters) : contains(["LowPriority", "Dedicated"], cluster.vm_priority)])
    error_message = "clusters.*.vm_priority must be LowPriority (dev) or Dedicated (prod)."
  }

  # Dedicated nodes draw on the per-family vCPU quota, low-priority nodes on the region's one
  # low-priority quota; new subscriptions start with 0 GPU quota, so every size must be one whose
  # quota infra/README.md tells the operator to request (main.tf, local.vm_sizes).
  # https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#azure-machine-learning-compute
  validation {
    condition     = alltrue([for cluster in values(var.clusters) : contains(keys(local.vm_sizes), cluster.vm_size)])
    error_message = "clusters.*.vm_size must be one of the sizes whose quota family is known (modules/aml_compute/main.tf local.vm_sizes); add the size with its family and vCPUs there and to the quota list in infra/README.md."
  }

  validation {
    condition     = alltrue([for cluster in values(var.clusters) : cluster.max_node_count >= 1 && cluster.max_node_count <= 100])
    error_message = "clusters.*.max_node_count must be between 1 and 100."
  }

  validation {
    condition     = alltrue([for cluster in values(var.clusters) : can(regex("^PT([0-9]+H)?([0-9]+M)?([0-9]+S)?$", cluster.idle_before_scale_down))])
    error_message = "clusters.*.idle_before_scale_down must be an ISO 8601 duration such as PT15M."
  }
  # AML compute clusters take one system-assigned identity or user-assigned ones, never both.
  # https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#compute-cluster
  validation {
    condition     = alltrue([for cluster in values(var.clusters) : cluster.managed_identities == null || try(cluster.managed_identities.system_assigned != (length(cluster.managed_identities.user_assigned_resource_ids) > 0), false)])
    error_message = "clusters.*.managed_identities must set either system_assigned = true or user_assigned_resource_ids, not both and not neither: an AML compute cluster takes one system-assigned identity or user-assigned ones."
  }
}

variable "node_public_ip_enabled" {
  type        = bool
  default     = false
  nullable    = false
  description = "Whether nodes get public IPs; prod turns this off (nodes live in the workspace's managed network)."
}

variable "subnet_resource_id" {
  type        = string
  default     = null
  description = "Subnet for the nodes when not using the workspace's managed network; null otherwise."
}

# --- AVM interface variables: the same names and shapes in every module ---

variable "managed_identities" {
  type = object({
    system_assigned            = optional(bool, true)
    user_assigned_resource_ids = optional(set(string), [])
  })
  default     = {}
  nullable    = false
  description = <<DESCRIPTION
Identity of every cluster without its own `clusters.*.managed_identities`. AML clusters take one
kind, not both.

- `system_assigned` - (Optional) Give the cluster its system-assigned identity; default `true`. Set
  `false` together with `user_assigned_resource_ids`.
- `user_assigned_resource_ids` - (Optional) Resource ids of user-assigned identities; the first is
  the default identity jobs run as; default none.
DESCRIPTION

  # https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#compute-cluster
  validation {
    condition     = var.managed_identities.system_assigned != (length(var.managed_identities.user_assigned_resource_ids) > 0)
    error_message = "managed_identities must set either system_assigned = true or user_assigned_resource_ids (with system_assigned = false): an AML compute cluster takes one system-assigned identity or user-assigned ones, not both, and jobs need one."
  }
}

variable "tags" {
  type        = map(string)
  nullable    = false
  description = "Tags applied to every resource this module creates: environment, owner, cost_centre and data_classification are required (infra/ sets them)."

  validation {
    condition     = alltrue([for key in ["environment", "owner", "cost_centre", "data_classification"] : contains(keys(var.tags), key)])
    error_message = "tags must include environment, owner, cost_centre and data_classification."
  }
}
