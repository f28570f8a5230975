# The identity every AML job runs as: one user-assigned identity on the gpu and cpu clusters, so
# its client id is known at plan time (a contained SQL user is created from it), it outlives a
# cluster that is recreated, and its roles (main.rbac.tf) are granted before the first job.
#
# An AML compute cluster takes one system-assigned identity or user-assigned ones, not both; the
# first user-assigned one is the "default identity": AML mounts storage, pulls the image and
# reaches datastores with it, and code in the job reads its client id from DEFAULT_IDENTITY_CLIENT_ID
# (demand_forecast.telemetry and the publish step pass it to ManagedIdentityCredential).
# https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#compute-cluster
resource "azurerm_user_assigned_identity" "jobs" {
  name                = local.names.job_identity
  location            = var.location
  resource_group_name = data.azurerm_resource_group.this.name
  tags                = local.tags
}
