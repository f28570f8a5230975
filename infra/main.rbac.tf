# Who may do what, in one place and least privilege. These live here rather than in each module's
# role_assignments input so that no two modules depend on each other's outputs (the workspace
# needs the lake, the lake's RBAC needs the workspace identity).
#
# The workspace storage has shared keys off and its system datastores are identity-based
# (storage_account_access_type = "Identity"), so everything that reads or writes it needs a data
# role on it, and nothing else gets one (CKV_FS_7):
# https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage#scenarios-for-role-assignments
#   - the workspace: nothing here; AML assigns its system identity's roles on its storage itself;
#   - the jobs' identity (main.identity.tf, on the gpu and cpu clusters): Blob Data Contributor
#     (job snapshots, default outputs, MLflow artifacts and the model registry: "create compute
#     cluster that uses the user-assigned identity" with Storage Blob Data Contributor);
#   - the image-build cluster (its own system identity): Blob Data Contributor (build context), and
#     AcrPush on the workspace registry (below: it pulls the base image and pushes the build);
#   - the factory: Blob Data Contributor (batch endpoint jobs run with the invoker's identity and
#     write their default outputs to workspaceblobstore,
#     https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-batch-endpoint#how-authentication-works);
#   - the deploying identity: Blob Data Contributor (stackctl deploy uploads code snapshots and the
#     environment build context); no File role: this stack has no notebooks or compute instances,
#     the only users of the file share, and File Data Privileged Contributor overrides file ACLs.
locals {
  workspace_storage = module.aml_workspace.storage_account_id
  # Passed in, never read from azurerm_client_config: in CI the plan is made by the read-only plan
  # identity and applied by the deploying one, and a data source is evaluated at plan time, so the
  # saved plan would grant this role to the plan identity (https://developer.hashicorp.com/terraform/cli/commands/plan#out-filename).
  # envs/bootstrap outputs it (deploying_identities.<env>.principal_id); tests/infra/test_release_blockers.py
  # refuses a principal_id derived from azurerm_client_config.
  deployer = var.deployer_object_id
  jobs     = azurerm_user_assigned_identity.jobs.principal_id
  role_assignments = {
    lake-workspace = { scope = module.data_lake.resource_id, role = "Storage Blob Data Contributor", principal_id = module.aml_workspace.principal_id }
    lake-factory   = { scope = module.data_lake.resource_id, role = "Storage Blob Data Contributor", principal_id = module.data_factory.principal_id }
    # The jobs' identity on the lake: AML mounts identity-based datastores as the cluster's default
    # identity, which needs "at least Storage Blob Data Reader access to the storage account"
    # (https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#accessing-storage-services);
    # that covers reading raw. It writes only where its steps write: validate -> conditioned,
    # score and monitor -> scored (src/stackctl/graph.py), each file system (container) its own scope.
    lake-read-jobs        = { scope = module.data_lake.resource_id, role = "Storage Blob Data Reader", principal_id = local.jobs }
    lake-conditioned-jobs = { scope = module.data_lake.file_system_container_ids["conditioned"], role = "Storage Blob Data Contributor", principal_id = local.jobs }
    lake-scored-jobs      = { scope = module.data_lake.file_system_container_ids["scored"], role = "Storage Blob Data Contributor", principal_id = local.jobs }
    # The workspace storage (identity-based system datastores).
    # Not the workspace's own identity: for a system-assigned workspace identity AML grants its data
    # roles on the workspace storage itself, and a second assignment of the same role fails with 409
    # RoleAssignmentExists (https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage#create-a-new-workspace).
    # https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage#scenarios-for-role-assignments
    wsstore-blob-jobs    = { scope = local.workspace_storage, role = "Storage Blob Data Contributor", principal_id = local.jobs }
    wsstore-blob-build   = { scope = local.workspace_storage, role = "Storage Blob Data Contributor", principal_id = module.aml_compute.principal_ids["build"] }
    wsstore-blob-factory = { scope = local.workspace_storage, role = "Storage Blob Data Contributor", principal_id = module.data_factory.principal_id }
    # AML manages workspace secrets (connections) in the vault; the factory only reads them.
    vault-workspace = { scope = module.key_vault.resource_id, role = "Key Vault Secrets Officer", principal_id = module.aml_workspace.principal_id }
    vault-factory   = { scope = module.key_vault.resource_id, role = "Key Vault Secrets User", principal_id = module.data_factory.principal_id }
    # No Key Vault role for the jobs: their datastores are identity-based (no credential in the
    # vault) and no step reads a secret.
    # The jobs' identity pulls the environment image: AML grants AcrPull by itself only to a
    # cluster's system-assigned identity; a user-assigned one needs it granted
    # (https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#scenario-azure-container-registry-without-admin-user,
    # https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication#scenario-use-a-private-azure-container-registry).
    registry-pull-jobs = { scope = module.aml_workspace.container_registry_id, role = "AcrPull", principal_id = local.jobs }
    # The image-build cluster (its own system identity) builds every environment image: the
    # workspace registry refuses public access, so AML builds on this cluster, not in ACR Tasks
    # (https://learn.microsoft.com/azure/machine-learning/how-to-network-isolation-planning, "Azure
    # Container Registry": "when ACR is behind a virtual network, Azure Machine Learning can't use it
    # to directly build Docker images"; the compute cluster named by image_build_compute builds them).
    # It pulls the base image from that same private registry (stackctl.aml.base_image imports it
    # there) and pushes the built image to it: AcrPush, which carries pull as well
    # (https://learn.microsoft.com/azure/container-registry/container-registry-roles: AcrPush = pull
    # and push). Not a separate AcrPull: AML itself grants AcrPull to a cluster's system-assigned
    # identity, and a second assignment of a role that exists fails with RoleAssignmentExists; a
    # reference build-compute setup grants the build identity AcrPush likewise (review-22 U2).
    registry-push-build = { scope = module.aml_workspace.container_registry_id, role = "AcrPush", principal_id = module.aml_compute.principal_ids["build"] }
    # The jobs send their OpenTelemetry metrics to App Insights, whose local (key) authentication is off:
    # Entra-authenticated ingestion needs "Monitoring Metrics Publisher" on the App Insights resource
    # (https://learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication).
    telemetry-jobs = { scope = module.monitoring.application_insights_id, role = "Monitoring Metrics Publisher", principal_id = local.jobs }
    # The factory starts batch endpoint jobs and polls them: the narrowest built-in role that may.
    workspace-factory = { scope = module.aml_workspace.resource_id, role = "AzureML Data Scientist", principal_id = module.data_factory.principal_id }
  }
  # The deploying identity's data roles. It is the bootstrap's user-assigned managed identity of
  # this environment (a service principal), and it may write role assignments only through the
  # bootstrap's conditioned RBAC Administrator role, whose condition admits a request only when
  # its PrincipalType is ServicePrincipal (envs/bootstrap/main.rbac.tf, local.only_assignable_roles).
  # azurerm sends principalType only when principal_type is set (role_assignment_resource.go,
  # Create: `if principalType := d.Get("principal_type").(string); principalType != ""`, and its
  # docs: "It is necessary to explicitly set this attribute when creating role assignments if the
  # principal creating the assignment is constrained by ABAC rules that filters on the
  # PrincipalType attribute", website/docs/r/role_assignment.html.markdown, hashicorp/terraform-provider-azurerm
  # v5.2.0-14), so every assignment here states it (tests/infra/test_release_path.py,
  # role_assignment_type_findings).
  deployer_role_assignments = {
    wsstore-blob-deployer = { scope = local.workspace_storage, role = "Storage Blob Data Contributor" }
  }
}

resource "azurerm_role_assignment" "this" {
  for_each = local.role_assignments

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = each.value.principal_id
  principal_type       = "ServicePrincipal"
  description          = "forecast-stack ${var.environment}: ${each.key}"
}

resource "azurerm_role_assignment" "deployer" {
  for_each = local.deployer_role_assignments

  scope                = each.value.scope
  role_definition_name = each.value.role
  principal_id         = local.deployer
  principal_type       = "ServicePrincipal"
  description          = "forecast-stack ${var.environment}: ${each.key} (the identity that runs terraform apply and stackctl deploy)"
}

# The workspace identity approves the private endpoints its managed network creates to the lake, SQL,
# its storage, its Key Vault and its registry: "As of March 31st 2025, the Azure AI Enterprise
# Network Connection Approver role must be assigned to the ... managed identity", system-assigned
# included; without it the connections stay Pending and every job's read of the lake or write to SQL
# is refused. Assigned on each target of a private-endpoint outbound rule (infra/main.tf) and of
# AML's own required rules (storage, Key Vault, registry), the narrowest scopes that work;
# the rules are written after these assignments (module.aml_workspace outbound_rules_after).
# https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#configure-a-managed-virtual-network-to-allow-only-approved-outbound
# https://github.com/MicrosoftDocs/azure-ai-docs/pull/415
# https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/ai-machine-learning#azure-ai-enterprise-network-connection-approver
resource "azurerm_role_assignment" "network_approver" {
  for_each = {
    lake              = module.data_lake.resource_id
    sql               = module.sql.resource_id
    workspace-storage = module.aml_workspace.storage_account_id
    # The workspace's Key Vault and registry: AML creates their private endpoints itself (required
    # rules of AllowOnlyApprovedOutbound), and the role holds
    # Microsoft.KeyVault/vaults/privateEndpointConnectionsApproval/action and
    # Microsoft.ContainerRegistry/registries/privateEndpointConnectionsApproval/action ("approve
    # private endpoint connections to Azure AI common dependency resources"); without them, those
    # connections could stay Pending and no job reads a secret or pulls an image (review 22 U1).
    # https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#list-of-required-rules
    key-vault          = module.key_vault.resource_id
    container-registry = module.aml_workspace.container_registry_id
  }

  scope                = each.value
  role_definition_name = "Azure AI Enterprise Network Connection Approver"
  principal_id         = module.aml_workspace.principal_id
  principal_type       = "ServicePrincipal"
  description          = "forecast-stack ${var.environment}: workspace approves its managed-network private endpoint to ${each.key}"
}

# The rules write must wait for the approver role to take effect too ("can take up to 10 minutes"):
# written right after the assignment, AML's approval of the private endpoints it creates is refused
# and the connections stay Pending. A wait of its own, triggered by the approver assignments only
# (a new or replaced one waits again), runs in parallel with role_propagation below; its id is the
# workspace module's outbound_rules_after (infra/main.tf).
# https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---role-assignment-changes-are-not-being-detected
# https://registry.terraform.io/providers/hashicorp/time/latest/docs/resources/sleep
# (tests/infra/test_release_blockers.py::test_the_workspace_may_approve_its_private_endpoints_before_the_rules)
resource "time_sleep" "network_approver_propagation" {
  create_duration = "5m"
  triggers = {
    approvers = join(",", sort(values(azurerm_role_assignment.network_approver)[*].id))
  }
}

# Role assignments take effect after a delay ("can take up to 10 minutes"); `stackctl deploy` runs
# right after the first apply and would meet 403s on the workspace storage, the registry and App
# Insights. The apply waits once after any assignment is created or replaced; deploy reads the
# stack output only after it (issue 22 item 14).
# https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---role-assignment-changes-are-not-being-detected
# https://registry.terraform.io/providers/hashicorp/time/latest/docs/resources/sleep
resource "time_sleep" "role_propagation" {
  create_duration = "5m"
  triggers = {
    assignments = join(",", sort(concat(
      values(azurerm_role_assignment.this)[*].id,
      values(azurerm_role_assignment.deployer)[*].id,
      values(azurerm_role_assignment.network_approver)[*].id,
    )))
  }
}
