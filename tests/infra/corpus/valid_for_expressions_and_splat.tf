variable "clusters" {
  type = list(object({ name = string, gpu = bool }))
  default = [
    { name = "cpu", gpu = false },
    { name = "gpu", gpu = true },
  ]
}

locals {
  names      = var.clusters[*].name
  gpu_names  = [for c in var.clusters : c.name if c.gpu]
  by_name    = { for c in var.clusters : c.name => c }
  grouped    = { for c in var.clusters : (c.gpu ? "gpu" : "cpu") => c.name... }
  first_name = var.clusters[0].name
}

output "names" {
  value = [local.names, local.gpu_names, keys(local.by_name), local.grouped, local.first_name]
}
