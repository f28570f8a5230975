#!/usr/bin/env bash
# The bootstrap stage, run once by an owner of the subscription (README, "Azure: first deploy", step 3):
# terraform apply of envs/bootstrap (resource groups, state storage, deploying identities with their
# federated credentials and role assignments, the runners' networks), then envs/<env>/backend.hcl for dev
# and prod. Idempotent: a second run plans "No changes" and rewrites the same backend files.
#
# Usage: scripts/bootstrap_state.sh [plan|apply]     (default: apply, which asks before changing)
#   settings: envs/bootstrap/terraform.tfvars (copy example.tfvars)
# Needs: terraform, the Azure CLI logged in as an owner (`az login`; `az account set -s <id>`).
set -euo pipefail
action=${1:-apply}
case "$action" in plan|apply) ;; *) echo "usage: scripts/bootstrap_state.sh [plan|apply]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
root=envs/bootstrap
if [ ! -f "$root/terraform.tfvars" ]; then
  echo "error: $root/terraform.tfvars is missing" >&2
  echo "  fix:   cp $root/example.tfvars $root/terraform.tfvars and fill it in" >&2
  exit 2
fi
for tool in terraform az; do
  if ! command -v "$tool" >/dev/null; then
    echo "error: $tool is not installed (the bootstrap runs as you, with your az login)" >&2
    exit 2
  fi
done
if ! az account show >/dev/null 2>&1; then
  echo "error: not logged in to Azure; run \`az login\` as an owner of the subscription and retry" >&2
  exit 2
fi
subscription=$(az account show --query id -o tsv)
export ARM_SUBSCRIPTION_ID=${ARM_SUBSCRIPTION_ID:-$subscription}
echo "==> bootstrap in subscription $ARM_SUBSCRIPTION_ID ($(az account show --query name -o tsv))"

tf() { terraform -chdir="$root" "$@"; }
override="$root/bootstrap_override.tf"
local_state="$root/terraform.tfstate"
# backend.hcl is written only once the state has been moved into the storage (below). A local state
# file means an earlier run applied but did not finish moving it: carry on from that local state
# (never -reconfigure past it, which would ignore it and then fail on "already exists").
if [ -f "$root/backend.hcl" ] && [ ! -f "$local_state" ]; then
  # The state storage exists: the bootstrap's own state lives there.
  rm -f "$override"
  tf init -input=false -reconfigure -backend-config=backend.hcl
else
  # First run (or an unfinished move): local state until the storage exists and the move succeeds.
  printf '# transient (scripts/bootstrap_state.sh): local state until the state storage exists\nterraform {\n  backend "local" {}\n}\n' > "$override"
  tf init -input=false -reconfigure
fi
tf plan -input=false -out=bootstrap.tfplan
if [ "$action" = plan ]; then exit 0; fi
# -parallelism=1: Entra ID refuses concurrent federated credential writes on one managed identity
# ("concurrent Federated Identity Credentials writes under the same managed identity are not
# supported"); the bootstrap is small, so one write at a time costs little.
# https://github.com/hashicorp/terraform-provider-azurerm/issues/19968
# https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations
tf apply -input=false -parallelism=1 bootstrap.tfplan
rm -f "$root/bootstrap.tfplan"

state_rg=$(tf output -json state | python3 -c 'import json,sys; print(json.load(sys.stdin)["resource_group_name"])')
state_account=$(tf output -json state | python3 -c 'import json,sys; print(json.load(sys.stdin)["storage_account_name"])')
if [ -f "$override" ]; then
  # The owner's Storage Blob Data Contributor on tfstate-bootstrap was just granted; Azure RBAC
  # takes minutes to propagate, so the first attempts may get 403: retry before giving up.
  # https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---role-assignment-changes-are-not-being-detected
  pending="$root/backend.hcl.pending"
  printf 'resource_group_name  = "%s"\nstorage_account_name = "%s"\ncontainer_name       = "tfstate-bootstrap"\n' \
    "$state_rg" "$state_account" > "$pending"
  rm -f "$override"
  echo "==> moving the bootstrap state into $state_account/tfstate-bootstrap"
  moved=0
  for attempt in 1 2 3 4 5 6; do
    if tf init -input=false -migrate-state -force-copy -backend-config=backend.hcl.pending; then
      moved=1
      break
    fi
    echo "    attempt $attempt failed (role assignments propagate for up to 10 minutes); retrying in 60 s" >&2
    sleep 60
  done
  if [ "$moved" != 1 ]; then
    # Keep the local state and no backend.hcl: the next run starts from the local state again.
    printf '# transient (scripts/bootstrap_state.sh): local state until the state storage exists\nterraform {\n  backend "local" {}\n}\n' > "$override"
    echo "error: could not move the bootstrap state into $state_account/tfstate-bootstrap" >&2
    echo "  the state is still local ($local_state); re-run scripts/bootstrap_state.sh to retry" >&2
    exit 1
  fi
  mv "$pending" "$root/backend.hcl"
  rm -f "$local_state" "$root/terraform.tfstate.backup"
fi
# Each environment's first, empty state (envs/bootstrap/main.state.tf, owner_environment_state): the
# first plan runs as the plan identity, which cannot create it. Never over an existing state
# (--if-none-match '*'); retried while the owner's new role propagates. terraform_version is the
# lowest version versions.tf admits, so no pipeline Terraform refuses it as newer than itself.
for env in dev prod; do
  scripts/write_backend_config.sh "$env" "$state_rg" "$state_account" "tfstate-$env"
  blob="forecast-stack/$env.tfstate"
  empty=$(mktemp)
  python3 -c 'import json,uuid; print(json.dumps({"version": 4, "terraform_version": "1.9.0", "serial": 0, "lineage": str(uuid.uuid4()), "outputs": {}, "resources": []}))' > "$empty"
  created=0
  for attempt in 1 2 3 4 5 6; do
    exists=$(az storage blob exists --auth-mode login --account-name "$state_account" -c "tfstate-$env" -n "$blob" --query exists -o tsv 2>/dev/null || echo error)
    if [ "$exists" = true ]; then created=1; break; fi
    if [ "$exists" = false ] && az storage blob upload --auth-mode login --account-name "$state_account" \
        -c "tfstate-$env" -n "$blob" -f "$empty" --if-none-match '*' --only-show-errors >/dev/null; then
      echo "==> wrote $env's first, empty state ($state_account/tfstate-$env/$blob)"
      created=1
      break
    fi
    echo "    $env's state: attempt $attempt failed (role assignments propagate for up to 10 minutes); retrying in 60 s" >&2
    sleep 60
  done
  rm -f "$empty"
  if [ "$created" != 1 ]; then
    echo "error: could not write $env's first state ($state_account/tfstate-$env/$blob); re-run scripts/bootstrap_state.sh" >&2
    exit 1
  fi
done
echo "==> done. Set the pipeline variables from: terraform -chdir=$root output deploying_identities / plan_identities / state / ci_runners; then: make doctor ENV=dev"
