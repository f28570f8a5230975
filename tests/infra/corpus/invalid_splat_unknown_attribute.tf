variable "clusters" {
  type    = list(object({ name = string }))
  default = []
}

output "sizes" {
  value = var.clusters[*].vm_size
}
