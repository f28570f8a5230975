# An interpolation inside a heredoc is a reference like any other.
output "retention" {
  value = <<-EOT
    keep ${var.retention_days} days
  EOT
}
