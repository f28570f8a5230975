variable "environment" {
  type    = string
  default = "dev"
}

output "title" {
  description = "A # and \"quotes\" in prose; %%{ and $${ escape a directive and an interpolation."
  value       = "Demand forecast%{if var.environment != "prod"} (${var.environment})%{endif} #1"
}

output "tags" {
  value = "%{for tag in ["a#1", "b\"2"]}[${tag}]%{endfor}"
}
