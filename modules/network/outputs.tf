output "resource_id" {
  value       = azurerm_virtual_network.this.id
  description = "ARM id of the VNet."
}

output "subnet_ids" {
  value       = { for key, subnet in azurerm_subnet.this : key => subnet.id }
  description = "Subnet ids by purpose (private_endpoints, aml_compute)."
}

output "private_dns_zone_ids" {
  value       = { for zone, resource in azurerm_private_dns_zone.this : zone => resource.id }
  description = "Private DNS zone ids by zone name, for private endpoints' DNS zone groups."
}
