#!/usr/bin/env bash
# Register one ephemeral runner (GitHub) or a run-once agent (Azure Pipelines), run one job, exit.
# The token arrives as an environment variable from the Container Apps secret (a Key Vault
# reference); it is never written to disk or echoed.
set -euo pipefail
case "${RUNNER_PLATFORM:?}" in
  github)
    # https://docs.github.com/rest/actions/self-hosted-runners#create-a-registration-token-for-a-repository
    registration=$(curl -fsSL -X POST -H "Accept: application/vnd.github+json" \
      -H "Authorization: Bearer ${GITHUB_PAT:?}" "${REGISTRATION_TOKEN_API_URL:?}" | jq -r .token)
    cd "$HOME/actions-runner"
    ./config.sh --url "${GH_URL:?}" --token "$registration" --labels "${RUNNER_LABELS:?}" \
      --ephemeral --unattended --disableupdate --name "aca-${HOSTNAME}"
    exec ./run.sh
    ;;
  azure-pipelines)
    # https://learn.microsoft.com/azure/devops/pipelines/agents/linux-agent#unattended-config
    cd "$HOME/azp-agent"
    ./config.sh --unattended --url "${AZP_URL:?}" --auth pat --token "${AZP_TOKEN:?}" \
      --pool "${AZP_POOL:?}" --agent "aca-${HOSTNAME}" --replace --acceptTeeEula
    exec ./run.sh --once
    ;;
  *) echo "RUNNER_PLATFORM must be github or azure-pipelines" >&2; exit 2 ;;
esac
