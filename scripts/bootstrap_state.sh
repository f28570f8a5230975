#!/usr/bin/env bash
# Create the storage for Terraform state once per subscription, locked down like the stacks:
# Entra-only access (shared keys off), TLS 1.2, no public blob access, blob versioning and soft
# delete so a bad apply can be rolled back, and a delete lock on the resource group.
# Then grant the deploying identity "Storage Blob Data Contributor" on the container (least
# privilege: data plane on the state container only) and write envs/<env>/backend.hcl.
#
# Usage: scripts/bootstrap_state.sh ENV LOCATION RESOURCE_GROUP STORAGE_ACCOUNT [PRINCIPAL_OBJECT_ID]
# Needs: the Azure CLI, logged in (`az login`) with rights to create the group and role assignments.
set -euo pipefail
env=${1:-}; location=${2:-}; rg=${3:-}; account=${4:-}; principal=${5:-}
if [ -z "$env" ] || [ -z "$location" ] || [ -z "$rg" ] || [ -z "$account" ]; then
  echo "usage: scripts/bootstrap_state.sh ENV LOCATION RESOURCE_GROUP STORAGE_ACCOUNT [PRINCIPAL_OBJECT_ID]" >&2
  exit 2
fi
if ! command -v az >/dev/null; then
  echo "error: the Azure CLI (az) is not installed; see https://learn.microsoft.com/cli/azure/install-azure-cli" >&2
  exit 2
fi
if ! az account show >/dev/null 2>&1; then
  echo "error: not logged in to Azure; run \`az login\` (or azure/login with OIDC in CI) and retry" >&2
  exit 2
fi
container=tfstate
set -x
az group create --name "$rg" --location "$location" --tags purpose=terraform-state environment="$env" >/dev/null
az storage account create --name "$account" --resource-group "$rg" --location "$location" \
  --sku Standard_ZRS --kind StorageV2 --min-tls-version TLS1_2 --https-only true \
  --allow-blob-public-access false --allow-shared-key-access false >/dev/null
az storage account blob-service-properties update --account-name "$account" --resource-group "$rg" \
  --enable-versioning true --enable-delete-retention true --delete-retention-days 30 \
  --enable-container-delete-retention true --container-delete-retention-days 30 >/dev/null
az storage container create --name "$container" --account-name "$account" --auth-mode login >/dev/null
scope=$(az storage account show --name "$account" --resource-group "$rg" --query id -o tsv)/blobServices/default/containers/$container
principal=${principal:-$(az ad signed-in-user show --query id -o tsv)}
az role assignment create --assignee-object-id "$principal" --role "Storage Blob Data Contributor" --scope "$scope" >/dev/null
az lock create --name terraform-state --lock-type CanNotDelete --resource-group "$rg" >/dev/null
set +x
"$(dirname "$0")/write_backend_config.sh" "$env" "$rg" "$account" "$container"
