"""The release pipelines (GitHub Actions and Azure Pipelines): schema-valid, least privilege, prod only
from release/* after approval on a runner inside the network, the same make targets in both."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / ".github" / "workflows" / "release.yml"
AZURE_PIPELINE = ROOT / ".azure-pipelines" / "release.yml"
AZURE_SCHEMA = Path(__file__).parent / "schemas" / "azure-pipelines.schema.json"
AZURE_SCHEMA_SHA256 = "f00a9630f6550204148634d9a13f634b5750a225559886effe09a751482f0459"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
# Labels of GitHub-hosted runners and Microsoft-hosted agents: they sit outside prod's network.
# https://docs.github.com/actions/using-github-hosted-runners/using-github-hosted-runners/about-github-hosted-runners
HOSTED_LABEL = re.compile(r"^(ubuntu|windows|macos)-", re.IGNORECASE)
# The labels a self-hosted runner gets unless it registers with --no-default-labels.
DEFAULT_LABEL = re.compile(r"(?<![\w-])(self-hosted|linux|x64|arm64)(?![\w-])", re.IGNORECASE)
# `rm` drops plan.json before Azure DevOps publishes build/<env> (its prior_state holds sensitive
# values in plain text); GitHub uploads named files instead.
# `echo` sets the plan artifact's name as an output variable (##vso[task.setvariable]), the only way a
# later job learns the attempt's name.
ALLOWED_COMMANDS = {"make", "bash", "scripts/write_backend_config.sh", "case", "mkdir", "rm", "echo"}


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def github_schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    # check-jsonschema ships the GitHub workflow schema vendored: no network needed.
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def azure_schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    # The azure-pipelines data transform expands ${{ }} template expressions first, as Azure DevOps
    # does before it validates (check-jsonschema's own azure-pipelines hook does the same).
    return subprocess.run(
        [
            str(CHECK_JSONSCHEMA),
            "--schemafile",
            str(AZURE_SCHEMA),
            "--data-transform",
            "azure-pipelines",
            # the schema's patterns are ECMAScript without the unicode flag (check-jsonschema's own
            # azure-pipelines hook passes the same)
            "--regex-variant",
            "nonunicode",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


# --- schemas ----------------------------------------------------------------------------------


WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_there_are_github_workflows_to_check() -> None:
    # A parametrization over nothing collects no test and passes: the schema test needs files.
    assert {path.name for path in WORKFLOWS} >= {RELEASE.name}


@pytest.mark.parametrize("path", WORKFLOWS, ids=[path.name for path in WORKFLOWS])
def test_github_workflows_pass_githubs_published_schema(path: Path) -> None:
    result = github_schema_check(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_azure_pipeline_passes_the_published_azure_pipelines_schema() -> None:
    assert hashlib.sha256(AZURE_SCHEMA.read_bytes()).hexdigest() == AZURE_SCHEMA_SHA256, (
        "tests/foundation/schemas/azure-pipelines.schema.json changed; see its README to update it"
    )
    result = azure_schema_check(AZURE_PIPELINE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_azure_pipeline_schema_check_catches_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "release.yml"
    text = AZURE_PIPELINE.read_text(encoding="utf-8")
    broken.write_text(text.replace('timeoutInMinutes: "60"', 'timeoutMinutes: "60"', 1), encoding="utf-8")
    result = azure_schema_check(broken)
    assert result.returncode == 1
    assert "timeoutMinutes" in result.stdout + result.stderr


# --- runners: no prod job outside the network ------------------------------------------------


def _in_env(stage: dict[str, Any], env: str) -> bool:
    """Whether an Azure Pipelines stage belongs to env: `prod`, `prod_plan`, `prod_apply`."""
    return bool(stage["stage"] == env or str(stage["stage"]).startswith(f"{env}_"))


def _labels(runs_on: Any) -> list[str]:
    return [runs_on] if isinstance(runs_on, str) else [str(label) for label in runs_on]


def _env_jobs(release: dict[str, Any], env: str) -> dict[str, dict[str, Any]]:
    """release.yml's jobs of one stack: `<env>-preflight`, `<env>-plan`, `<env>-apply`."""
    return {name: job for name, job in release["jobs"].items() if name.startswith(f"{env}-")}


def hosted_prod_jobs(release: dict[str, Any], azure: dict[str, Any]) -> list[str]:
    """Every prod job (plan, apply, deploy, smoke) that would run on a hosted runner/agent."""
    offenders: list[str] = []
    for name, job in _env_jobs(release, "prod").items():
        if "environment" not in job:
            continue  # the preflight: no environment, no OIDC token, reads GitHub's API only
        runner = job["runs-on"]
        text = " ".join(_labels(runner.get("labels", [])) if isinstance(runner, dict) else _labels(runner))
        if not isinstance(runner, dict) or "group" not in runner:
            offenders.append(f"github {name}: runs-on {runner}, not prod's runner group")
        elif HOSTED_LABEL.search(text):
            offenders.append(f"github {name}: runner labels {text}")
        # A job asking for a self-hosted runner's default label (self-hosted, linux, x64) would match
        # any runner registered with them, and must not be how prod is chosen.
        # https://docs.github.com/actions/hosting-your-own-runners/managing-self-hosted-runners/using-labels-with-self-hosted-runners
        elif DEFAULT_LABEL.search(text):
            offenders.append(f"github {name}: runner labels {text} name a default label")
    for stage in azure["stages"]:
        if not _in_env(stage, "prod"):
            continue
        for job in stage["jobs"]:
            pool = job.get("pool", stage.get("pool", azure.get("pool")))
            name = job.get("job") or job.get("deployment")
            if not isinstance(pool, dict) or "vmImage" in pool or "name" not in pool:
                offenders.append(f"azure-pipelines prod/{name}: pool {pool}")
    return offenders


def test_no_prod_job_runs_on_a_hosted_runner() -> None:
    release, azure = load(RELEASE), load(AZURE_PIPELINE)
    # The check walks prod's jobs in both files; with none found it would pass on nothing.
    assert {"prod-plan", "prod-apply"} <= set(_env_jobs(release, "prod"))
    assert [job for stage in azure["stages"] if _in_env(stage, "prod") for job in stage["jobs"]]
    assert hosted_prod_jobs(release, azure) == []


def test_a_prod_job_on_a_hosted_runner_is_caught() -> None:
    release, azure = load(RELEASE), load(AZURE_PIPELINE)
    release["jobs"]["prod-apply"]["runs-on"] = "ubuntu-latest"
    release["jobs"]["prod-plan"]["runs-on"] = {"group": "forecast-stack-prod", "labels": ["ubuntu-24.04"]}
    prod_apply = next(stage for stage in azure["stages"] if stage["stage"] == "prod_apply")
    prod_apply["jobs"][0]["pool"] = {"vmImage": "ubuntu-latest"}
    assert hosted_prod_jobs(release, azure) == [
        "github prod-plan: runner labels ubuntu-24.04",
        "github prod-apply: runs-on ubuntu-latest, not prod's runner group",
        "azure-pipelines prod/apply: pool {'vmImage': 'ubuntu-latest'}",
    ]


def test_prod_runner_with_default_labels_is_caught() -> None:
    release, azure = load(RELEASE), load(AZURE_PIPELINE)
    release["jobs"]["prod-plan"]["runs-on"]["labels"] = ["self-hosted", "forecast-stack-prod"]
    assert hosted_prod_jobs(release, azure) == [
        "github prod-plan: runner labels self-hosted forecast-stack-prod name a default label"
    ]


# The one workflow-level concurrency group release.yml may have: dev's pushes share one, every other
# run (prod, pull requests) is a group of its own, so no prod release ever waits behind another in a
# group GitHub may cancel it from.
DEV_ONLY_CONCURRENCY = (
    "${{ github.event_name == 'push' && github.ref == 'refs/heads/main' && 'release-dev' "
    "|| format('release-run-{0}', github.run_id) }}"
)


def prod_cancellation_findings(release: dict[str, Any], azure: dict[str, Any]) -> list[str]:
    """GitHub keeps one pending run per concurrency group and cancels the others without a word, so
    no group may hold prod's releases (the state lock and the stale-plan check serialise them
    loudly instead); Azure DevOps queues prod's stages behind an Exclusive lock (sequential).
    https://docs.github.com/actions/writing-workflows/choosing-what-your-workflow-does/control-the-concurrency-of-workflows-and-jobs
    https://learn.microsoft.com/azure/devops/pipelines/process/approvals#exclusive-lock"""
    findings = []
    group = (release.get("concurrency") or {}).get("group") if "concurrency" in release else None
    if "concurrency" in release and group != DEV_ONLY_CONCURRENCY:
        findings.append(
            f"release.yml: workflow-level concurrency {release['concurrency']} "
            "can cancel a pending prod release"
        )
    for name, job in _env_jobs(release, "prod").items():
        if "concurrency" in job:
            findings.append(
                f"release.yml {name}: concurrency {job['concurrency']} can cancel a pending prod release"
            )
    for stage in azure["stages"]:
        if _in_env(stage, "prod") and stage.get("lockBehavior") != "sequential":
            findings.append(
                f"azure-pipelines {stage['stage']}: lockBehavior {stage.get('lockBehavior')} (not sequential)"
            )
    return findings


def test_no_prod_release_is_cancelled_while_it_waits() -> None:
    assert prod_cancellation_findings(load(RELEASE), load(AZURE_PIPELINE)) == []


def test_the_review_s_cancelling_groups_are_caught() -> None:
    release, azure = load(RELEASE), load(AZURE_PIPELINE)
    release["concurrency"] = {"group": "release-${{ github.ref }}", "cancel-in-progress": False}
    release["jobs"]["prod-apply"]["concurrency"] = {"group": "release-prod", "cancel-in-progress": False}
    del next(stage for stage in azure["stages"] if stage["stage"] == "prod_apply")["lockBehavior"]
    assert prod_cancellation_findings(release, azure) == [
        "release.yml: workflow-level concurrency {'group': 'release-${{ github.ref }}', "
        "'cancel-in-progress': False} can cancel a pending prod release",
        "release.yml prod-apply: concurrency {'group': 'release-prod', 'cancel-in-progress': False} "
        "can cancel a pending prod release",
        "azure-pipelines prod_apply: lockBehavior None (not sequential)",
    ]


def test_dev_runs_on_the_runner_too() -> None:
    # dev's firewalls deny by default and admit the runner's static egress IP by name (README:
    # Release pipeline; tests/infra/test_release_path.py checks every data-plane job of both stacks).
    for name in ("dev-plan", "dev-apply"):
        runner = str(load(RELEASE)["jobs"][name]["runs-on"])
        assert "vars.DEV_RUNNER_LABEL" in runner
        assert "vars.DEV_RUNNER_GROUP" in runner
        # Dev's own runner only: no fallback to prod's label (tests/infra/test_release_path.py,
        # test_no_dev_job_can_run_on_prod_s_runner).
        assert "PROD" not in runner
        assert "forecast-stack-prod" not in runner
        assert not HOSTED_LABEL.search(runner)
    dev = next(stage for stage in load(AZURE_PIPELINE)["stages"] if stage["stage"] == "dev")
    assert all(job["pool"] == {"name": "$(DEV_AGENT_POOL)"} for job in dev["jobs"])


# --- least privilege and the Makefile as the only entry point -------------------------------


# What each job may hold. `id-token: write` only where a job names an environment (each stack's plan
# and apply, whose subject carries it); the PR test job and the preflights may mint nothing.
# https://docs.github.com/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#adding-permissions-settings
ALLOWED_PERMISSIONS = {"contents": {"read"}, "actions": {"read"}, "id-token": {"write"}}


def permission_findings(workflows: dict[str, dict[str, Any]]) -> list[str]:
    findings = []
    for name, workflow in workflows.items():
        if workflow.get("permissions") != {}:
            findings.append(
                f"{name}: workflow-level permissions {workflow.get('permissions')} (must be {{}})"
            )
        for job_name, job in workflow["jobs"].items():
            permissions = job.get("permissions", {})
            for scope, level in permissions.items():
                if level not in ALLOWED_PERMISSIONS.get(scope, set()):
                    findings.append(f"{name} {job_name}: {scope}: {level}")
            if permissions.get("id-token") and "environment" not in job:
                findings.append(f"{name} {job_name}: id-token: write without an environment")
            if "secrets" in job:
                findings.append(f"{name} {job_name}: passes secrets")
    return findings


def test_permissions_are_least_privilege() -> None:
    workflows = {"release.yml": load(RELEASE)}
    assert all(workflow["jobs"] for workflow in workflows.values()), "a workflow with no job to check"
    assert permission_findings(workflows) == []


def test_the_review_s_workflow_wide_id_token_is_caught() -> None:
    release = load(RELEASE)
    release["permissions"] = {"contents": "read", "id-token": "write"}  # the review's item 14
    release["jobs"]["test"]["permissions"]["id-token"] = "write"
    release["jobs"]["prod-preflight"]["permissions"]["contents"] = "write"
    release["jobs"]["dev-preflight"]["permissions"]["id-token"] = "write"
    release["jobs"]["prod-apply"]["secrets"] = "inherit"
    assert permission_findings({"release.yml": release}) == [
        "release.yml: workflow-level permissions {'contents': 'read', 'id-token': 'write'} (must be {})",
        "release.yml test: id-token: write without an environment",
        "release.yml dev-preflight: id-token: write without an environment",
        "release.yml prod-preflight: contents: write",
        "release.yml prod-apply: passes secrets",
    ]


def _github_runs(workflow: dict[str, Any]) -> list[str]:
    return [
        step["run"] for job in workflow["jobs"].values() for step in job.get("steps", []) if "run" in step
    ]


def _azure_steps(azure: dict[str, Any], stage_name: str | None = None) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for stage in azure["stages"]:
        if stage_name and not _in_env(stage, stage_name):
            continue
        for job in stage["jobs"]:
            steps += job.get("steps") or job["strategy"]["runOnce"]["deploy"]["steps"]
    return steps


def _azure_commands(steps: list[dict[str, Any]]) -> list[str]:
    commands: list[str] = []
    for step in steps:  # in order: plain scripts and the AzureCLI@2 steps' inline scripts
        if "script" in step:
            commands.append(step["script"])
        elif step.get("task") == "AzureCLI@2":
            commands.append(step["inputs"]["inlineScript"])
    return commands


def test_every_command_goes_through_make_or_our_scripts() -> None:
    sources = [
        _github_runs(load(RELEASE)),
        _azure_commands(_azure_steps(load(AZURE_PIPELINE))),
    ]
    assert all(sources), "a pipeline file with no command to check: the parsing is out of date"
    for command in [command for source in sources for command in source]:
        assert command.strip().split()[0] in ALLOWED_COMMANDS, command


def test_no_azure_login_action_and_no_secret_in_azure_pipelines() -> None:
    """Tokens come fresh from the runtime (stackctl/credentials.py), never from azure/login's one-shot
    exchange; the service connection is workload identity federation, so no secret appears."""
    uses = [step.get("uses", "") for job in load(RELEASE)["jobs"].values() for step in job["steps"]]
    assert not any(u.startswith("azure/login") for u in uses)
    text = AZURE_PIPELINE.read_text(encoding="utf-8").lower()
    assert "clientsecret" not in text
    assert "arm_client_secret" not in text


def _make_targets(commands: list[str]) -> list[str]:
    return [command.split()[1] for command in commands if command.startswith("make ")]


def test_both_pipelines_call_the_same_make_targets_in_the_same_order() -> None:
    for env in ("dev", "prod"):
        github = _make_targets(_github_runs({"jobs": _env_jobs(load(RELEASE), env)}))
        # the preflight (make doctor) reads GitHub's API, and for prod Azure DevOps' checks (prod_preflight)
        assert github == ["doctor", "plan", "audit", "review", "apply", "unit", "unit"], env
    for stage, first in (("dev", []), ("prod", ["doctor"])):
        azure = _make_targets(_azure_commands(_azure_steps(load(AZURE_PIPELINE), stage)))
        assert azure == [*first, "plan", "audit", "review", "apply", "unit"], stage
    # PR validation: bash .ci/run (make test), and the package-index tests in a job of their own
    pr_jobs = {name: job for name, job in load(RELEASE)["jobs"].items() if name in {"test", "test-network"}}
    assert _make_targets(_github_runs({"jobs": pr_jobs})) == ["test-network"]


# --- prod only from release/*, after approval, applying the reviewed plan ---------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_github_releases_apply_only_after_the_gated_plan_and_audit(env: str) -> None:
    release = load(RELEASE)
    preflight, plan, apply = (release["jobs"][f"{env}-{step}"] for step in ("preflight", "plan", "apply"))
    assert preflight["needs"] == "test"
    assert plan["needs"] == f"{env}-preflight"  # no plan without the environment's protection
    assert apply["needs"] == f"{env}-plan"
    assert f'make doctor ENV={env} ARGS="--only ci-protection"' == preflight["steps"][-1]["run"]
    # the `prod` environment carries the required reviewers: the apply job waits for them
    assert apply["environment"] == env
    assert plan["environment"] == f"{env}-plan"
    runs = [s.get("run", "") for s in apply["steps"]]
    review = next(i for i, r in enumerate(runs) if r.startswith("make review"))
    assert review < next(i for i, r in enumerate(runs) if r.startswith("make apply"))
    assert not any(r.startswith("make plan") for r in runs)  # applies the uploaded plan only
    uploads = [s["with"] for s in plan["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    carried = next(u for u in uploads if u["name"].startswith("plan-"))
    assert carried["include-hidden-files"] is True  # carries build/<env>/.terraform.lock.hcl
    # each attempt its own name (a re-run would get 409), and apply takes this attempt's plan
    assert all("github.run_attempt" in u["name"] for u in uploads)
    download = next(s for s in apply["steps"] if s.get("uses", "").startswith("actions/download-artifact"))
    assert download["with"]["name"] == f"${{{{ needs.{env}-plan.outputs.plan_artifact }}}}"
    assert plan["outputs"]["plan_artifact"] == carried["name"]
    # no plan.json (prior_state in plain text) and no whole build folder in any artifact; the
    # saved plan lives one day
    for upload in uploads:
        paths = [line.strip() for line in upload["path"].splitlines() if line.strip()]
        assert not any(p.endswith(("plan.json", "/", "}")) for p in paths), paths
    assert carried["retention-days"] == 1


def _as_dev(job: Any) -> Any:
    """A prod job with prod's names replaced by dev's: equal to dev's job when the two differ only
    in the stack they release."""
    text = json.dumps(job)
    for prod, dev in (
        ("startsWith(github.ref, 'refs/heads/release/')", "github.ref == 'refs/heads/main'"),
        ("PROD_", "DEV_"),
        ("prod", "dev"),
    ):
        text = text.replace(prod, dev)
    changed: Any = json.loads(text)
    return changed


def dev_prod_drift(release: dict[str, Any]) -> list[str]:
    """Where dev's jobs and prod's differ beyond the stack's name: dev must rehearse prod's release
    step for step. FORECAST_STACK_RELEASE (prod: 1) is the one intended difference."""
    findings = []
    for step in ("preflight", "plan", "apply"):
        dev, prod = release["jobs"].get(f"dev-{step}"), _as_dev(release["jobs"].get(f"prod-{step}"))
        for job in (dev, prod):
            for each in (job or {}).get("steps", []):
                each.get("env", {}).pop("FORECAST_STACK_RELEASE", None)
        if dev != prod:
            findings.append(f"dev-{step} and prod-{step} differ beyond the stack's name")
    return findings


def test_dev_rehearses_prod_s_release_step_for_step() -> None:
    release = load(RELEASE)
    assert dev_prod_drift(release) == []
    apply = next(s for s in release["jobs"]["prod-apply"]["steps"] if s.get("run") == "make apply ENV=prod")
    assert apply["env"]["FORECAST_STACK_RELEASE"] == "1"


def test_a_prod_job_that_drifted_from_dev_s_is_caught() -> None:
    release = load(RELEASE)
    release["jobs"]["prod-plan"]["steps"].insert(0, {"run": "make plan ENV=dev"})
    release["jobs"]["dev-apply"]["timeout-minutes"] = 30
    del release["jobs"]["prod-preflight"]
    assert dev_prod_drift(release) == [
        "dev-preflight and prod-preflight differ beyond the stack's name",
        "dev-plan and prod-plan differ beyond the stack's name",
        "dev-apply and prod-apply differ beyond the stack's name",
    ]


def test_azure_pipelines_prod_is_behind_the_environment_approval_and_applies_the_published_plan() -> None:
    azure = load(AZURE_PIPELINE)
    stages = {stage["stage"]: stage for stage in azure["stages"]}
    # Checks are evaluated when the stage that uses the environment starts: the approval must sit in
    # a stage of its own, after the stage that publishes the plan.
    # https://learn.microsoft.com/azure/devops/pipelines/process/approvals
    assert "prod" not in stages
    prod_plan, prod_apply = stages["prod_plan"], stages["prod_apply"]
    assert prod_apply["dependsOn"] == "prod_plan"
    for stage in (prod_plan, prod_apply):
        assert "isRelease" in stage["condition"]
        assert "PullRequest" in stage["condition"]
    assert [job.get("job") for job in prod_plan["jobs"]] == ["plan"]
    assert not any("environment" in job for job in prod_plan["jobs"])
    assert "publish" in str(prod_plan["jobs"][0]["steps"])
    (apply,) = prod_apply["jobs"]
    assert apply["deployment"] == "apply"
    assert apply["environment"] == "forecast-prod"  # its Approvals check is the approval
    steps = apply["strategy"]["runOnce"]["deploy"]["steps"]
    assert any(step.get("download") == "current" for step in steps)
    commands = _azure_commands(steps)
    assert not any(c.startswith("make plan") for c in commands)
    assert [c.split()[1] for c in commands if c.startswith("make")] == ["review", "apply", "unit"]
    # the service connections are named literally (authorised at queue time), with no secret; the
    # plan stage holds only the read-only plan identity
    plan_connections = {
        s["inputs"]["azureSubscription"]
        for s in _azure_steps(azure, "prod_plan")
        if s.get("task") == "AzureCLI@2"
    }
    apply_connections = {
        s["inputs"]["azureSubscription"]
        for s in _azure_steps(azure, "prod_apply")
        if s.get("task") == "AzureCLI@2"
    }
    assert plan_connections == {"forecast-prod-plan"}
    assert apply_connections == {"forecast-prod"}


def test_smoke_tests_and_model_validation_read_the_target_stack_from_the_job() -> None:
    for env in ("dev", "prod"):
        apply = load(RELEASE)["jobs"][f"{env}-apply"]
        assert apply["env"]["FORECAST_STACK_ENV"] == env
        runs = [s.get("run", "") for s in apply["steps"]]
        assert runs.index('make unit ARGS="-m azure -k model_validation"') > next(
            i for i, r in enumerate(runs) if r.startswith("make apply")
        )
    for stage in ("dev", "prod"):
        steps = _azure_steps(load(AZURE_PIPELINE), stage)
        unit = next(s for s in steps if s.get("inputs", {}).get("inlineScript", "").startswith("make unit"))
        assert unit["env"]["FORECAST_STACK_ENV"] == "$(ENV)"
        assert unit["env"]["AZURE_TESTS"] == "1"


# --- scripts ----------------------------------------------------------------------------------


def test_backend_config_script_rejects_a_bad_env_and_writes_no_secret(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "write_backend_config.sh"
    bad = subprocess.run(
        ["bash", str(script), "qa", "rg", "acct"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert "ENV must be dev or prod" in bad.stderr
    missing = subprocess.run(["bash", str(script), "dev"], capture_output=True, text=True, check=False)
    assert missing.returncode == 2
    assert "bootstrap_state.sh" in missing.stderr


def test_backend_config_defaults_to_the_environments_own_container(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    (copy / "envs" / "prod").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "write_backend_config.sh", copy / "scripts")
    subprocess.run(
        ["bash", str(copy / "scripts" / "write_backend_config.sh"), "prod", "rg", "st"], check=True
    )
    written = (copy / "envs" / "prod" / "backend.hcl").read_text(encoding="utf-8")
    assert 'container_name       = "tfstate-prod"' in written


def test_bootstrap_script_refuses_without_its_settings(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    (copy / "scripts").mkdir(parents=True)
    (copy / "envs" / "bootstrap").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "bootstrap_state.sh", copy / "scripts")
    result = subprocess.run(
        ["bash", str(copy / "scripts" / "bootstrap_state.sh")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "example.tfvars" in result.stderr


# --- Azure Pipelines: a preflight stage before prod's plan (review finding 7) ----------------------


def azure_preflight_findings(azure: dict[str, Any]) -> list[str]:
    """A prod_preflight stage runs `make doctor ENV=prod ARGS="--only ci-protection"` with the job's
    System.AccessToken (a secret variable reaches a script only when mapped), and prod_plan waits
    for it. https://learn.microsoft.com/azure/devops/pipelines/build/variables#systemaccesstoken"""
    stages = {str(stage["stage"]): stage for stage in azure["stages"]}
    preflight = stages.get("prod_preflight")
    if preflight is None:
        return ["no prod_preflight stage"]
    findings = []
    steps = [step for job in preflight["jobs"] for step in job.get("steps", []) if "script" in step]
    doctor = [
        step
        for step in steps
        if "make doctor ENV=prod" in step["script"] and "ci-protection" in step["script"]
    ]
    if not doctor:
        findings.append("prod_preflight does not run make doctor --only ci-protection")
    elif doctor[0].get("env", {}).get("SYSTEM_ACCESSTOKEN") != "$(System.AccessToken)":
        findings.append("prod_preflight does not map System.AccessToken")
    depends = stages["prod_plan"].get("dependsOn", [])
    if "prod_preflight" not in ([depends] if isinstance(depends, str) else depends):
        findings.append("prod_plan does not wait for prod_preflight")
    return findings


def test_azure_pipelines_has_a_prod_preflight() -> None:
    assert azure_preflight_findings(load(AZURE_PIPELINE)) == []


def test_a_missing_or_skipped_azure_preflight_is_caught() -> None:
    azure = load(AZURE_PIPELINE)
    next(s for s in azure["stages"] if s["stage"] == "prod_plan")["dependsOn"] = "validate"
    assert azure_preflight_findings(azure) == ["prod_plan does not wait for prod_preflight"]
    preflight = next(s for s in azure["stages"] if s["stage"] == "prod_preflight")
    preflight["jobs"][0]["steps"][-1]["env"] = {}
    assert "prod_preflight does not map System.AccessToken" in azure_preflight_findings(azure)
    azure["stages"] = [s for s in azure["stages"] if s["stage"] != "prod_preflight"]
    assert azure_preflight_findings(azure) == ["no prod_preflight stage"]


# --- Azure Pipelines: the plan artifact carries only tfplan and the lock file, per attempt (finding 6)


def azure_artifact_findings(azure: dict[str, Any]) -> list[str]:
    """Every published artifact is named per attempt ($(System.JobAttempt): a rerun must not meet an
    existing name); the plan artifact is a staging folder holding only tfplan and the lock file
    (never build/<env>, where plan.json and logs are); apply downloads the name its plan job output.
    https://learn.microsoft.com/azure/devops/pipelines/artifacts/pipeline-artifacts"""
    findings: list[str] = []
    for stage in azure["stages"]:
        for job in stage["jobs"]:
            steps = job.get("steps") or job.get("strategy", {}).get("runOnce", {}).get("deploy", {}).get(
                "steps", []
            )
            name = f"{stage['stage']}/{job.get('job') or job.get('deployment')}"
            for step in steps:
                if "publish" in step:
                    if "$(System.JobAttempt)" not in str(step.get("artifact")):
                        findings.append(f"{name}: artifact {step.get('artifact')} is not named per attempt")
                    if str(step["publish"]).startswith("build/"):
                        findings.append(f"{name}: publishes {step['publish']} whole")
                if "cp " in str(step.get("script", "")) and "/plan" in str(step.get("script", "")):
                    copied = re.findall(r"build/\$\(ENV\)/(\S+)", step["script"])
                    if sorted(copied) != [".terraform.lock.hcl", "tfplan"]:
                        findings.append(f"{name}: the plan artifact carries {sorted(copied)}")
                if "download" in step and step.get("artifact") != "$(planArtifact)":
                    findings.append(f"{name}: downloads {step.get('artifact')}, not its plan job's output")
    return findings


def test_azure_plan_artifacts_carry_only_what_apply_needs_per_attempt() -> None:
    assert azure_artifact_findings(load(AZURE_PIPELINE)) == []


def test_the_review_s_fixed_whole_folder_artifact_is_caught() -> None:
    text = AZURE_PIPELINE.read_text(encoding="utf-8")
    broken = text.replace("artifact: plan-$(ENV)-$(System.JobAttempt)", "artifact: plan-$(ENV)", 1)
    broken = broken.replace("publish: $(Build.ArtifactStagingDirectory)/audit", "publish: build/$(ENV)", 1)
    broken = broken.replace(
        " build/$(ENV)/.terraform.lock.hcl", " build/$(ENV)/.terraform.lock.hcl build/$(ENV)/plan.json", 1
    )
    broken = broken.replace("artifact: $(planArtifact)", "artifact: plan-$(ENV)", 1)
    assert azure_artifact_findings(yaml.safe_load(broken)) == [
        "dev/plan: the plan artifact carries ['.terraform.lock.hcl', 'plan.json', 'tfplan']",
        "dev/plan: artifact plan-$(ENV) is not named per attempt",
        "dev/plan: publishes build/$(ENV) whole",
        "dev/apply: downloads plan-$(ENV), not its plan job's output",
    ]


# --- actions pinned by commit SHA where a job can mint an OIDC token (review finding 9) ------------

PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def unpinned_actions(workflow: dict[str, Any], name: str) -> list[str]:
    """In a job with `id-token: write`, a tag-pinned action (`@v4`) runs whatever the tag points at
    next with the job's token; a full commit SHA is the only immutable reference.
    https://docs.github.com/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions#using-third-party-actions"""
    findings = []
    for job_name, job in workflow["jobs"].items():
        if (job.get("permissions") or {}).get("id-token") != "write":
            continue
        for step in job.get("steps", []):
            uses = str(step.get("uses", ""))
            if uses and not uses.startswith("./") and not PINNED.match(uses):
                findings.append(f"{name} {job_name}: {uses}")
    return findings


def test_jobs_that_mint_tokens_pin_actions_by_sha() -> None:
    for path in WORKFLOWS:
        assert unpinned_actions(load(path), path.name) == []


def test_a_tag_pinned_action_in_a_token_job_is_caught() -> None:
    release = load(RELEASE)
    release["jobs"]["prod-plan"]["steps"][0]["uses"] = "actions/checkout@v4"
    release["jobs"]["prod-apply"]["steps"][-1]["uses"] = "actions/upload-artifact@main"
    release["jobs"]["prod-apply"]["steps"][1]["uses"] = "actions/setup-python@a26af69"  # a short SHA
    assert unpinned_actions(release, "release.yml") == [
        "release.yml prod-plan: actions/checkout@v4",
        "release.yml prod-apply: actions/setup-python@a26af69",
        "release.yml prod-apply: actions/upload-artifact@main",
    ]


# --- review 23, A2: code owners cover what the release jobs run ------------------------------------

CODEOWNERS = ROOT / ".github" / "CODEOWNERS"
# Files the plan and apply jobs run (or that decide what they run): each needs a code owner's review.
RELEASE_CODE = [
    ".github/workflows/release.yml",
    ".github/CODEOWNERS",
    ".azure-pipelines/release.yml",
    ".ci/run",
    "Makefile",
    "pyproject.toml",
    "requirements/constraints.txt",
    "scripts/write_backend_config.sh",
    "src/stackctl/cli.py",
    "src/stackctl/doctor/pipeline_checks.py",
    "envs/prod/main.tf",
    "envs/bootstrap/main.rbac.tf",
    "infra/main.tf",
    "modules/ci_runner/main.tf",
]


def tracked_files() -> list[str]:
    """Every file git tracks: anything the release jobs import, collect or read is among them."""
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return listed or [
        str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts
    ]


def unowned(codeowners: str, paths: list[str]) -> list[str]:
    """The paths whose last matching CODEOWNERS line names no owner (GitHub: the last match wins; a
    pattern with no owner un-owns). Patterns follow gitignore's rules ("the same rules used in
    gitignore files", with exceptions these plain directory patterns do not use), judged by
    pathspec's gitignore pattern (installed with mypy, pinned in requirements/constraints.txt)."""
    from pathspec.patterns.gitignore.basic import GitIgnoreBasicPattern

    rules = []
    for line in codeowners.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            rules.append((GitIgnoreBasicPattern(fields[0]), fields[1:]))
    found = []
    for path in paths:
        owners: list[str] = []
        for pattern, named in rules:
            if pattern.match_file(path) is not None:
                owners = named
        if not owners:
            found.append(path)
    return found


def test_code_owners_cover_every_tracked_file() -> None:
    """Final release review F1: the jobs import demand_forecast and collect tests/, which a list of
    release paths missed; every tracked file needs an owner, the listed release code included."""
    assert all((ROOT / path).exists() for path in RELEASE_CODE), "a listed path moved: update RELEASE_CODE"
    text = CODEOWNERS.read_text(encoding="utf-8")
    files = tracked_files()
    assert "src/model/demand_forecast/errors.py" in files
    assert unowned(text, files) == []
    assert unowned(text, RELEASE_CODE) == []


def test_a_path_without_a_code_owner_is_caught() -> None:
    owned = "* @your-org/release-managers\n"
    review_path_list = "/src/stackctl/ @team\n/scripts/ @team\n/Makefile @team\n"
    assert unowned(review_path_list, ["src/model/demand_forecast/errors.py", "tests/conftest.py"]) == [
        "src/model/demand_forecast/errors.py",
        "tests/conftest.py",
    ]  # main's list: the model package and the tests the jobs import had no owner
    assert unowned(owned + "/src/stackctl/doctor/\n", RELEASE_CODE) == [
        "src/stackctl/doctor/pipeline_checks.py"
    ]  # a later line with no owner un-owns the folder
    assert unowned(owned.replace("*", "/script/"), ["scripts/write_backend_config.sh"]) == [
        "scripts/write_backend_config.sh"
    ]
    assert unowned("", ["infra/main.tf"]) == ["infra/main.tf"]  # main's tree had no CODEOWNERS


def test_no_workflow_needs_actions_to_approve_pull_requests() -> None:
    """provider-locks opens its pull request as a GitHub App (token from create-github-app-token, by
    SHA), its key an environment secret; no job's GITHUB_TOKEN may write pull requests."""
    locks = load(ROOT / ".github" / "workflows" / "provider-locks.yml")
    propose = locks["jobs"]["propose"]
    assert propose["environment"] == "provider-locks"
    assert "pull-requests" not in propose["permissions"]
    assert PINNED.match(propose["steps"][0]["uses"]), propose["steps"][0]["uses"]
    assert propose["steps"][0]["uses"].startswith("actions/create-github-app-token@")
    assert propose["steps"][-1]["env"]["GH_TOKEN"] == "${{ steps.app.outputs.token }}"
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            assert (job.get("permissions") or {}).get("pull-requests") != "write", f"{path.name} {name}"
    assert "must be on" not in (ROOT / ".github" / "workflows" / "provider-locks.yml").read_text()


# --- review 23 (walk), B2 and B5: what the release jobs' machines need ------------------------------


def _job_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = job.get("steps") or job.get("strategy", {}).get("runOnce", {}).get(
        "deploy", {}
    ).get("steps", [])
    return steps


def machine_findings(release: dict[str, Any], azure: dict[str, Any]) -> list[str]:
    """Every Azure Pipelines job sets Python 3.11 before its first command (Managed DevOps Pools' and
    Microsoft-hosted Ubuntu images have python3 3.12, 3.11 only in the tool cache; scripts/setup.sh
    refuses anything but 3.11); every apply job, on both platforms, installs ODBC Driver 18 before
    `make apply` (its deploy step writes the reporting schema through it).
    https://learn.microsoft.com/azure/devops/pipelines/tasks/reference/use-python-version-v0"""
    findings = []
    for stage in azure["stages"]:
        for job in stage["jobs"]:
            name = f"azure-pipelines {stage['stage']}/{job.get('job') or job.get('deployment')}"
            steps = _job_steps(job)
            commands = [i for i, s in enumerate(steps) if "script" in s or s.get("task") == "AzureCLI@2"]
            python = [i for i, s in enumerate(steps) if s.get("task") == "UsePythonVersion@0"]
            if not python or (commands and python[0] > commands[0]):
                findings.append(f"{name}: no UsePythonVersion before its first command")
            elif steps[python[0]]["inputs"]["versionSpec"] != "$(PYTHON_VERSION)":
                findings.append(f"{name}: Python {steps[python[0]]['inputs']['versionSpec']}")
    applies = [
        (f"github {name}", job.get("steps", []))
        for name, job in release["jobs"].items()
        if name.endswith("-apply")
    ]
    applies += [
        (f"azure-pipelines {stage['stage']}/apply", _job_steps(job))
        for stage in azure["stages"]
        for job in stage["jobs"]
        if job.get("deployment") == "apply"
    ]
    for name, steps in applies:
        runs = [
            str(s.get("run") or s.get("script") or s.get("inputs", {}).get("inlineScript", "")) for s in steps
        ]
        apply = next((i for i, r in enumerate(runs) if r.startswith("make apply")), None)
        odbc = next((i for i, r in enumerate(runs) if r == "bash scripts/install_odbc_driver.sh"), None)
        if apply is None or odbc is None or odbc > apply:
            findings.append(f"{name}: ODBC Driver 18 is not installed before make apply")
    return findings


def test_every_release_job_has_python_3_11_and_apply_has_the_odbc_driver() -> None:
    release, azure = load(RELEASE), load(AZURE_PIPELINE)
    assert sum(1 for name in release["jobs"] if name.endswith("-apply")) == 2
    assert machine_findings(release, azure) == []


def test_the_walk_review_s_missing_python_and_driver_are_caught() -> None:
    release, azure = load(RELEASE), load(AZURE_PIPELINE)
    stages = {stage["stage"]: stage for stage in azure["stages"]}
    preflight = stages["prod_preflight"]["jobs"][0]
    preflight["steps"] = [s for s in preflight["steps"] if s.get("task") != "UsePythonVersion@0"]
    dev_plan = stages["dev"]["jobs"][0]
    dev_plan["steps"].append(dev_plan["steps"].pop(1))  # after its commands
    validate = stages["validate"]["jobs"][0]
    next(s for s in validate["steps"] if s.get("task") == "UsePythonVersion@0")["inputs"]["versionSpec"] = (
        "3.12"
    )
    release["jobs"]["prod-apply"]["steps"] = [
        s for s in release["jobs"]["prod-apply"]["steps"] if "install_odbc_driver" not in str(s.get("run"))
    ]
    prod_apply = _job_steps(stages["prod_apply"]["jobs"][0])
    odbc = next(i for i, s in enumerate(prod_apply) if "install_odbc_driver" in str(s.get("script")))
    prod_apply.append(prod_apply.pop(odbc))
    assert machine_findings(release, azure) == [
        "azure-pipelines validate/test: Python 3.12",
        "azure-pipelines dev/plan: no UsePythonVersion before its first command",
        "azure-pipelines prod_preflight/preflight: no UsePythonVersion before its first command",
        "github prod-apply: ODBC Driver 18 is not installed before make apply",
        "azure-pipelines prod_apply/apply: ODBC Driver 18 is not installed before make apply",
    ]


def test_the_odbc_script_installs_only_when_the_driver_is_missing(tmp_path: Path) -> None:
    """With odbcinst reporting the driver, the script changes nothing (no apt-get, no sudo)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "odbcinst").write_text("#!/bin/sh\nexit 0\n")
    for tool in ("apt-get", "sudo", "dpkg", "curl"):
        (bin_dir / tool).write_text(f"#!/bin/sh\necho {tool} ran >&2\nexit 9\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    script = ROOT / "scripts" / "install_odbc_driver.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "ODBC Driver 18 for SQL Server is installed" in done.stdout
    (bin_dir / "odbcinst").write_text("#!/bin/sh\nexit 1\n")
    missing = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, check=False)
    assert missing.returncode != 0
    assert "ran" in missing.stderr  # it went on to install (the stand-ins refuse)


def review_approver_findings(workflow: dict[str, Any]) -> list[str]:
    """Each job that records the review (`make review`) must be able to read who approved it:
    `actions: read` in its permissions and the job token on the step (GitHub's approvals API,
    GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals; stackctl/terraform/review.py). A job's
    own `permissions` replace the workflow's, so the job must grant it itself (review-runtimefix F1)."""
    findings = []
    for name, job in (workflow.get("jobs") or {}).items():
        for step in job.get("steps") or []:
            if "make review" not in str(step.get("run", "")):
                continue
            if (job.get("permissions") or {}).get("actions") not in ("read", "write"):
                findings.append(f"{name}: no `actions: read` for the approvals API")
            if "github.token" not in str((step.get("env") or {}).get("GITHUB_TOKEN", "")):
                findings.append(f"{name}: the review step gets no GITHUB_TOKEN")
    return findings


def test_the_review_record_can_read_who_approved() -> None:
    workflow = load(RELEASE)
    assert any(
        "make review" in str(s.get("run", ""))
        for j in workflow["jobs"].values()
        for s in j.get("steps") or []
    )
    assert review_approver_findings(workflow) == []


def test_a_review_step_blind_to_the_approvals_is_caught() -> None:
    step = {"run": "make review ENV=prod", "env": {"GITHUB_TOKEN": "${{ github.token }}"}}
    jobs = {
        "no_permission": {"permissions": {"contents": "read"}, "steps": [step]},
        "no_token": {"permissions": {"actions": "read"}, "steps": [{"run": "make review ENV=dev"}]},
        "both": {"permissions": {"id-token": "write"}, "steps": [{"run": "make review ENV=dev"}]},
        "fine": {"permissions": {"actions": "read"}, "steps": [step]},
    }
    assert review_approver_findings({"jobs": jobs}) == [
        "no_permission: no `actions: read` for the approvals API",
        "no_token: the review step gets no GITHUB_TOKEN",
        "both: no `actions: read` for the approvals API",
        "both: the review step gets no GITHUB_TOKEN",
    ]


@pytest.mark.parametrize("candidate", ["Candidate: 18.5.1.1-1", "Candidate: (none)"])
def test_the_odbc_install_refreshes_the_package_lists_first(tmp_path: Path, candidate: str) -> None:
    """Final release review F2: runner images carry Microsoft's repository with lists from the day
    they were built, so an install without `apt-get update` can 404 on a superseded package."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    (bin_dir / "odbcinst").write_text(f'#!/bin/sh\n[ -f "{log}.installed" ]\n')
    (bin_dir / "apt-cache").write_text(f"#!/bin/sh\necho '{candidate}'\n")
    (bin_dir / "apt-get").write_text(
        f'#!/bin/sh\necho "apt-get $*" >> "{log}"\ncase "$*" in *install*) touch "{log}.installed";; esac\n'
    )
    for tool in ("sudo", "env"):
        (bin_dir / tool).write_text('#!/bin/sh\nwhile [ "${1#*=}" != "$1" ]; do shift; done\nexec "$@"\n')
    for tool in ("dpkg", "curl"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool}" >> "{log}"\n')
    (tmp_path / "os-release").write_text("ID=ubuntu\nVERSION_ID=24.04\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    script = (ROOT / "scripts" / "install_odbc_driver.sh").read_text(encoding="utf-8")
    copy = tmp_path / "install.sh"
    copy.write_text(script.replace("/etc/os-release", str(tmp_path / "os-release")))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    done = subprocess.run(["bash", str(copy)], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    calls = [line.split()[0:2] for line in log.read_text().splitlines()]
    apt = [c for c in calls if c[0] == "apt-get"]
    assert apt[0] == ["apt-get", "update"], calls
    assert apt[-1] == ["apt-get", "install"], calls
