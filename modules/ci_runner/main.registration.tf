# Where the runners register and what KEDA polls, per platform. Locals only (no provider), so
# tests/infra/test_runner_registration.py evaluates them with variables.tf in `terraform console`.
# https://keda.sh/docs/latest/scalers/github-runner/
# https://keda.sh/docs/latest/scalers/azure-pipelines/
# https://docs.github.com/rest/actions/self-hosted-runners#create-a-registration-token-for-an-organization

locals {
  secret_name = "registration-token"
  github      = var.platform == "github"
  # An organisation runner in a runner group (prod's): jobs select it with runs-on { group, labels },
  # and a runner registered on the repository (all that dev's credential can register) is in no
  # group, so it can never take prod's jobs.
  # https://docs.github.com/actions/writing-workflows/choosing-where-your-workflow-runs/choosing-the-runner-for-a-job#choosing-runners-in-a-group
  github_org_scope = local.github && try(var.github.scope, "repo") == "org"

  # KEDA metadata per platform. github-runner counts queued workflow jobs whose labels match;
  # azure-pipelines counts queued jobs of the agent pool.
  scale_rule = local.github ? {
    name              = "github-runner"
    type              = "github-runner"
    trigger_parameter = "personalAccessToken"
    metadata = {
      githubAPIURL = "https://api.github.com"
      owner        = var.github.owner
      # repo: the runners are the repository's own. org: they join an organisation runner group,
      # and KEDA still counts only this repository's queued jobs (repos).
      runnerScope               = var.github.scope
      repos                     = var.github.repository
      labels                    = join(",", var.labels)
      targetWorkflowQueueLength = "1"
    }
    } : {
    name              = "azure-pipelines"
    type              = "azure-pipelines"
    trigger_parameter = "personalAccessToken"
    metadata = {
      poolName                   = var.azure_pipelines.pool_name
      organizationURLFromEnv     = "AZP_URL"
      targetPipelinesQueueLength = "1"
    }
  }

  # What the runner image's entrypoint (image/entrypoint.sh) reads to register itself.
  container_env = local.github ? merge({
    RUNNER_PLATFORM            = "github"
    GH_URL                     = local.github_org_scope ? "https://github.com/${var.github.owner}" : "https://github.com/${var.github.owner}/${var.github.repository}"
    REGISTRATION_TOKEN_API_URL = local.github_org_scope ? "https://api.github.com/orgs/${var.github.owner}/actions/runners/registration-token" : "https://api.github.com/repos/${var.github.owner}/${var.github.repository}/actions/runners/registration-token"
    RUNNER_LABELS              = join(",", var.labels)
    # config.sh --runnergroup: an organisation runner registers into this group, not Default.
    }, { for name, value in { RUNNER_GROUP = try(var.github.runner_group, null) } : name => value if local.github_org_scope }) : {
    RUNNER_PLATFORM = "azure-pipelines"
    AZP_URL         = var.azure_pipelines.organization_url
    AZP_POOL        = var.azure_pipelines.pool_name
  }
  token_env_name = local.github ? "GITHUB_PAT" : "AZP_TOKEN"
}
