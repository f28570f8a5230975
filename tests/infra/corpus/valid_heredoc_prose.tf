variable "retention_days" {
  type    = number
  default = 7
}

output "retention" {
  description = <<-EOT
    Days raw files are kept. Releases before 2.0 read this from var.raw_retention_days
    (prose: not a reference); it now comes from local.retention.
  EOT
  value       = <<-EOT
    keep ${var.retention_days} days
  EOT
}
