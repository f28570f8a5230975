#!/usr/bin/env bash
# Register one ephemeral runner (GitHub) or a run-once agent (Azure Pipelines), run one job, exit.
# The token arrives as an environment variable from the Container Apps secret (a Key Vault
# reference); it is never written to disk or echoed.
set -euo pipefail
case "${RUNNER_PLATFORM:?}" in
  github)
    # Repository or organisation registration token (REGISTRATION_TOKEN_API_URL, main.registration.tf).
    # https://docs.github.com/rest/actions/self-hosted-runners#create-a-registration-token-for-a-repository
    # https://docs.github.com/rest/actions/self-hosted-runners#create-a-registration-token-for-an-organization
    registration=$(curl -fsSL -X POST -H "Accept: application/vnd.github+json" \
      -H "Authorization: Bearer ${GITHUB_PAT:?}" "${REGISTRATION_TOKEN_API_URL:?}" | jq -r .token)
    # Job steps inherit the runner's environment: the PAT leaves it before any job runs.
    unset GITHUB_PAT
    cd "$HOME/actions-runner"
    # --no-default-labels: without it the runner also answers runs-on: self-hosted, so any workflow
    # asking for any self-hosted runner would land inside prod's network.
    # https://docs.github.com/actions/hosting-your-own-runners/managing-self-hosted-runners/using-labels-with-self-hosted-runners
    # --disableupdate: the image is rebuilt weekly with the latest runner release (README, "The
    # runner image"); GitHub refuses runners older than its enforced minimum version.
    # --runnergroup (organisation runners, prod's): the group that admits only this repository; jobs
    # select it with runs-on { group, labels }, which no repository runner can match.
    # https://docs.github.com/actions/hosting-your-own-runners/managing-self-hosted-runners/managing-access-to-self-hosted-runners-using-groups
    group=()
    if [ -n "${RUNNER_GROUP:-}" ]; then group=(--runnergroup "$RUNNER_GROUP"); fi
    ./config.sh --url "${GH_URL:?}" --token "$registration" --labels "${RUNNER_LABELS:?}" \
      --no-default-labels --ephemeral --unattended --disableupdate --name "aca-${HOSTNAME}" \
      ${group[@]+"${group[@]}"}
    exec ./run.sh
    ;;
  azure-pipelines)
    # https://learn.microsoft.com/azure/devops/pipelines/agents/linux-agent#unattended-config
    cd "$HOME/azp-agent"
    agent="${AZP_AGENT_NAME:-aca-${HOSTNAME}}"
    # Job steps inherit the agent's environment: keep the PAT in an unexported shell variable.
    token="${AZP_TOKEN:?}"
    unset AZP_TOKEN
    ./config.sh --unattended --url "${AZP_URL:?}" --auth pat --token "$token" \
      --pool "${AZP_POOL:?}" --agent "$agent" --replace --acceptTeeEula
    if [ "${AZP_PLACEHOLDER:-0}" = 1 ]; then
      # The placeholder (main.tf, azurerm_container_app_job.placeholder): registered, never run, so
      # the pool is never empty; it stays listed offline.
      echo "placeholder agent $agent registered in ${AZP_POOL}"
      exit 0
    fi
    # One job, then remove this agent from the pool so that finished containers leave no offline
    # agents behind (the placeholder is the one that stays).
    cleanup() { ./config.sh remove --unattended --auth pat --token "$token" || true; }
    trap cleanup EXIT
    ./run.sh --once
    ;;
  *) echo "RUNNER_PLATFORM must be github or azure-pipelines" >&2; exit 2 ;;
esac
