# The subjects each identity trusts. Provider-free (locals and one output), so
# tests/infra/test_runner_isolation.py plans this file with variables.tf and naming.tf alone, offline,
# and stackctl doctor compares the result with what the pipeline really sends.

locals {
  # Federated credentials. The GitHub environment <env> (apply; prod's has required reviewers and,
  # like every environment here, a deployment-branch policy: README "Azure: first deploy", step 6) is trusted by the
  # deploying identity; <env>-plan (plan and audit, no reviewers) only by the read-only plan
  # identity, so a workflow on any branch that names <env>-plan gets no right to change anything.
  # The subject starts with the repository's own `sub` prefix: repositories created or renamed
  # from 2026-07-15 send immutable subjects, repo:<owner>@<owner id>/<repo>@<repo id>, older ones
  # repo:<owner>/<repo> (gh api repos/<o>/<r>/actions/oidc/customization/sub tells which; stackctl
  # doctor checks it). During a migration both forms are trusted (var.github.subject_prefixes).
  # https://learn.microsoft.com/entra/workload-id/workload-identities-github-immutable-subjects
  # https://learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust-user-assigned-managed-identity
  github_subject_prefixes = var.github == null ? {} : {
    # The immutable form is built only when chosen: its ids may be null otherwise.
    for form, prefix in {
      immutable = contains(var.github.subject_forms, "immutable") ? "repo:${var.github.owner}@${var.github.owner_id}/${var.github.repository}@${var.github.repository_id}" : null
      legacy    = "repo:${var.github.owner}/${var.github.repository}"
    } : form => prefix if contains(var.github.subject_forms, form)
  }
  github_subjects = merge([
    for env in local.environments : merge([
      for form, prefix in local.github_subject_prefixes : {
        for trust in [{ gh_env = "${env}-plan", identity = "plan" }, { gh_env = env, identity = "deploy" }] :
        # The immutable form keeps the old key, so an existing credential is updated in place.
        (form == "immutable" ? "${env}-github-${trust.gh_env}" : "${env}-github-${trust.gh_env}-legacy") => {
          env      = env
          identity = trust.identity
          issuer   = "https://token.actions.githubusercontent.com"
          subject  = "${prefix}:environment:${trust.gh_env}"
        }
      }
    ]...)
  ]...)
  # One service connection per identity: <env> (deploying, behind the environment approval and the
  # branch-control check) and <env>-plan (read-only plan stage). New service connections use the
  # Entra issuer and a subject holding the connection's id, known only once the connection exists:
  # create it first (manual, workload identity federation), then copy its issuer and subject here.
  # https://learn.microsoft.com/azure/devops/pipelines/release/convert-service-connections
  # https://learn.microsoft.com/azure/devops/pipelines/release/configure-workload-identity
  azure_devops_subjects = var.azure_devops == null ? {} : {
    for key, connection in var.azure_devops.service_connections : "${key}-azure-devops" => {
      env      = trimsuffix(key, "-plan")
      identity = endswith(key, "-plan") ? "plan" : "deploy"
      issuer   = connection.issuer
      subject  = connection.subject
    }
  }
  federated_credentials = merge(local.github_subjects, local.azure_devops_subjects)
}

output "federated_subjects" {
  value       = { for key, credential in local.federated_credentials : key => { identity = "${credential.identity}-${credential.env}", issuer = credential.issuer, subject = credential.subject } }
  description = "Every federated credential the bootstrap creates: which identity (deploy-<env> or plan-<env>) trusts which issuer and subject. Not secrets."
}
