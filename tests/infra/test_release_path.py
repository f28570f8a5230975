"""The release path's rights and ordering (envs/bootstrap, the env roots, scripts/bootstrap_state.sh),
checked offline on the declared configuration; each check is shown to catch its fault on a broken
copy of the tree. Sources are cited next to each rule (review release_review1)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
from infra_helpers import Edit

from stackctl.checks.hclmodel import cached_by_content, read_dir, strip_comments

BOOTSTRAP = Path("envs/bootstrap")
# What a role entry of envs/bootstrap/main.rbac.tf looks like: principal first, then role.
ROLE_ENTRY = re.compile(r'principal\s*=\s*"(?P<principal>[\w-]+)"[^{}]*?\brole\s*=\s*"(?P<role>[^"]+)"')
# The only roles the plan identity (its jobs run any release/* branch's code before approval) may
# hold: it reads the stack and the state, and can write neither (review item 12).
ALLOWED_ROLES = {
    "plan": {"Reader", "Storage Blob Data Reader"},
}


def _text(path: Path) -> str:
    return strip_comments(path.read_text(encoding="utf-8"))


def _load(path: Path) -> dict[str, Any]:
    """python-hcl2's reading of one file, from the checks' content-keyed cache (hclmodel) when this
    text was read before: the tests below read every file of the tree and of each copy of it."""
    text = path.read_text(encoding="utf-8")
    loaded: dict[str, Any] = cached_by_content("python-hcl2 loads", text, hcl2.loads, code=__file__)
    return loaded


def _unquote(value: Any) -> str:
    return str(value).strip('"')


def _blocks(document: dict[str, Any], kind: str, type_name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for entry in document.get(kind, []):
        for key, body in entry.items():
            if _unquote(key) == type_name:
                found += list(body.values()) if kind in {"resource", "data"} else [body]
    return found


# --- the runner job's identity is not the deploying identity --------------------------------------


def runner_and_plan_findings(tree: Path) -> list[str]:
    """The runners carry no identity of ours (tests/infra/test_runner_isolation.py); a plan job's
    environment has no reviewers, so the plan identity may reach no role that changes the stack or
    its state."""
    findings: list[str] = []
    runner = _load(tree / BOOTSTRAP / "main.runner.tf")
    for entry in runner.get("module", []):
        for name, body in entry.items():
            if "identity" in body:
                findings.append(f"module {_unquote(name)}: the runner is given an identity")
    for match in ROLE_ENTRY.finditer(_text(tree / BOOTSTRAP / "main.rbac.tf")):
        principal, role = match["principal"], match["role"]
        if principal in ALLOWED_ROLES and role not in ALLOWED_ROLES[principal]:
            findings.append(f"{principal} identity holds {role}")
    # <env>-plan (GitHub) and <env>-plan service connections (Azure DevOps) trust the plan identity.
    main = re.sub(r"\s+", " ", _text(tree / BOOTSTRAP / "subjects.tf"))
    if not re.search(r'gh_env = "\$\{env\}-plan", identity = "plan"', main):
        findings.append("the GitHub <env>-plan environment is not trusted by the plan identity")
    if 'endswith(key, "-plan") ? "plan"' not in main:
        findings.append("the Azure DevOps <env>-plan service connection is not trusted by the plan identity")
    return findings


def test_runner_and_plan_identities_cannot_change_the_stack(root: Path) -> None:
    assert runner_and_plan_findings(root) == []


def test_a_runner_with_an_identity_or_a_plan_identity_that_writes_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "envs/bootstrap/main.runner.tf",
        "  subnet_id           = azurerm_subnet.runner[each.key].id",
        "  subnet_id           = azurerm_subnet.runner[each.key].id\n"
        '  identity            = azurerm_user_assigned_identity.deploy["prod"].id',
    )
    # the review's item 12: the plan identity could rewrite prod's state
    edit(
        "envs/bootstrap/main.rbac.tf",
        'role      = "Storage Blob Data Reader"',
        'role      = "Storage Blob Data Contributor"',
    )
    edit("envs/bootstrap/subjects.tf", 'identity = "plan" }', 'identity = "deploy" }')
    assert runner_and_plan_findings(tree) == [
        "module ci_runner: the runner is given an identity",
        "plan identity holds Storage Blob Data Contributor",
        "the GitHub <env>-plan environment is not trusted by the plan identity",
    ]


# --- the deploying identity may create the locks prod asks for -------------------------------------


def lock_findings(tree: Path) -> list[str]:
    """Contributor and RBAC Administrator have no Microsoft.Authorization/locks/* action
    (https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources#who-can-create-or-delete-locks);
    a lock on the bootstrap group is inherited by the runner VNet's peering, which prod's destroy
    deletes (https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources#lock-inheritance)."""
    findings: list[str] = []
    stack_locks = any(
        "azurerm_management_lock" in _text(path)
        for part in ("modules", "infra")
        for path in sorted((tree / part).rglob("*.tf"))
    )
    rbac = _load(tree / BOOTSTRAP / "main.rbac.tf")
    lock_roles = [
        name
        for entry in rbac.get("resource", [])
        for type_name, bodies in entry.items()
        if _unquote(type_name) == "azurerm_role_definition"
        for name, body in bodies.items()
        if {f"Microsoft.Authorization/locks/{verb}" for verb in ("read", "write", "delete")}
        <= {_unquote(action) for block in body.get("permissions", []) for action in block.get("actions", [])}
    ]
    rbac_text = _text(tree / BOOTSTRAP / "main.rbac.tf")
    granted = any(
        f"azurerm_role_definition.{_unquote(name)}[env].role_definition_resource_id" in rbac_text
        for name in lock_roles
    )
    if stack_locks and not granted:
        findings.append(
            "the modules create management locks but no deploying identity holds the lock actions"
        )
    for lock in _blocks(_load(tree / BOOTSTRAP / "main.tf"), "resource", "azurerm_management_lock"):
        if "azurerm_resource_group." in str(lock.get("scope", "")):
            findings.append(f"a management lock on a resource group: {lock['scope']}")
    return findings


def test_the_deploying_identity_can_manage_the_stacks_locks(root: Path) -> None:
    assert lock_findings(root) == []


def test_a_missing_lock_role_and_a_group_lock_are_caught(tree: Path, edit: Edit) -> None:
    edit("envs/bootstrap/main.rbac.tf", '"Microsoft.Authorization/locks/write",', "")
    edit(
        "envs/bootstrap/main.tf",
        "scope      = azurerm_storage_account.state.id",
        "scope = azurerm_resource_group.bootstrap.id",
    )
    assert lock_findings(tree) == [
        "the modules create management locks but no deploying identity holds the lock actions",
        "a management lock on a resource group: ${azurerm_resource_group.bootstrap.id}",
    ]


# --- control plane only for storage ---------------------------------------------------------------


def data_plane_findings(tree: Path) -> list[str]:
    """Without data_plane_available = false the provider reads each storage account's data plane,
    which a private account answers with 403
    (https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/guides/features-block#data_plane_available)."""
    findings: list[str] = []
    for env in ("dev", "prod", "bootstrap"):
        for provider in _blocks(_load(tree / "envs" / env / "main.tf"), "provider", "azurerm"):
            storage = [
                block for features in provider.get("features", []) for block in features.get("storage", [])
            ]
            if not any(block.get("data_plane_available") is False for block in storage):
                findings.append(f"envs/{env}: storage data_plane_available is not false")
    return findings


def test_every_root_keeps_storage_on_the_control_plane(root: Path) -> None:
    assert data_plane_findings(root) == []


def test_a_root_reading_the_storage_data_plane_is_caught(tree: Path, edit: Edit) -> None:
    # envs/dev/main.tf and envs/prod/main.tf are one file (envs/shared/main.tf): both roots break.
    edit("envs/shared/main.tf", "data_plane_available = false", "data_plane_available = true")
    assert data_plane_findings(tree) == [
        "envs/dev: storage data_plane_available is not false",
        "envs/prod: storage data_plane_available is not false",
    ]


# --- the runner VNet still resolves public names ------------------------------------------------------


def test_runner_dns_links_fall_back_to_public_resolution(root: Path) -> None:
    # https://learn.microsoft.com/azure/dns/private-dns-fallback
    links = _blocks(
        _load(root / "infra" / "main.ci_runner.tf"),
        "resource",
        "azurerm_private_dns_zone_virtual_network_link",
    )
    assert links
    assert all(_unquote(link.get("resolution_policy")) == "NxDomainRedirect" for link in links)


# --- the bootstrap script: serial identity writes, backend config only after the move --------------


def bootstrap_script_findings(script: str) -> list[str]:
    findings: list[str] = []
    apply = next((line for line in script.splitlines() if line.strip().startswith("tf apply")), "")
    if "-parallelism=1" not in apply:
        # https://github.com/hashicorp/terraform-provider-azurerm/issues/19968
        findings.append("the bootstrap applies federated credentials in parallel")
    migrate = script.find("-migrate-state")
    written = [
        m.start() for m in re.finditer(r'>\s*"\$root/backend\.hcl"|mv [^\n]*"\$root/backend\.hcl"', script)
    ]
    if migrate < 0 or any(position < migrate for position in written):
        findings.append("backend.hcl is written before the state has moved")
    if 'if [ -f "$root/backend.hcl" ] && [ ! -f "$local_state" ]' not in script:
        findings.append("a left-over local state is ignored when backend.hcl exists")
    # Walk review B1: each environment's first state exists before its first (read-only) plan, and
    # is written only where none exists.
    joined = script.replace("\\\n", " ")  # continuation lines as one
    uploads = re.findall(r"az storage blob upload[^\n]*", joined)
    if not uploads:
        findings.append("the bootstrap writes no first state for the environments")
    elif not all("--if-none-match '*'" in upload for upload in uploads):
        findings.append("the first state may overwrite an existing state")
    return findings


def test_the_owner_may_write_each_environment_s_first_state(root: Path) -> None:
    assigned = next(
        b
        for b in read_dir(root / BOOTSTRAP).blocks
        if b.address == "azurerm_role_assignment.owner_environment_state"
    )
    assert "Storage Blob Data Contributor" in str(assigned.body.get("role_definition_name"))
    assert "azurerm_storage_container.state[each.key]" in str(assigned.body.get("scope"))
    assert 'env != "bootstrap"' in str(assigned.body.get("for_each"))


def test_the_bootstrap_script_writes_serially_and_moves_before_it_switches(root: Path) -> None:
    assert (
        bootstrap_script_findings((root / "scripts" / "bootstrap_state.sh").read_text(encoding="utf-8")) == []
    )


def test_the_review_s_broken_script_is_caught() -> None:
    broken = """
tf() { terraform -chdir="$root" "$@"; }
if [ -f "$root/backend.hcl" ]; then
  tf init -input=false -reconfigure -backend-config=backend.hcl
fi
tf apply -input=false bootstrap.tfplan
if [ -f "$override" ]; then
  printf 'x' > "$root/backend.hcl"
  tf init -input=false -migrate-state -force-copy -backend-config=backend.hcl
fi
"""
    assert bootstrap_script_findings(broken) == [
        "the bootstrap applies federated credentials in parallel",
        "backend.hcl is written before the state has moved",
        "a left-over local state is ignored when backend.hcl exists",
        "the bootstrap writes no first state for the environments",
    ]
    overwriting = (
        broken + 'az storage blob upload --auth-mode login -c "tfstate-$env" -n "$blob" -f "$empty"\n'
    )
    assert "the first state may overwrite an existing state" in bootstrap_script_findings(overwriting)


# --- every job that reaches a stack's data planes runs on the self-hosted runner -------------------

RELEASE = Path(".github/workflows/release.yml")
AZURE_PIPELINE = Path(".azure-pipelines/release.yml")
# GitHub-hosted runner labels and Microsoft-hosted agents (vmImage): outside both stacks' firewalls.
# https://docs.github.com/actions/using-github-hosted-runners/using-github-hosted-runners/about-github-hosted-runners
HOSTED = re.compile(r"(ubuntu|windows|macos)-", re.IGNORECASE)


def hosted_data_plane_jobs(release: dict[str, Any], azure: dict[str, Any]) -> list[str]:
    """Jobs of dev or prod (plan, apply, deploy, smoke, model validation) on a hosted runner: dev's
    firewalls deny by default and admit named ranges only (the runner's egress IP among them), prod
    has no public endpoint, so a hosted runner gets 403 or no route."""
    offenders = []
    for name, job in release["jobs"].items():
        environment = str(job.get("environment", "")).removesuffix("-plan")
        if environment in {"dev", "prod"} and (
            not isinstance(job["runs-on"], dict) or HOSTED.search(str(job["runs-on"]))
        ):
            offenders.append(f"github {name}: runner {job['runs-on']}")
    for stage in azure["stages"]:
        if not any(str(stage["stage"]).split("_")[0] == env for env in ("dev", "prod")):
            continue
        for job in stage["jobs"]:
            pool = job.get("pool", stage.get("pool"))
            if not isinstance(pool, dict) or "vmImage" in pool or "name" not in pool:
                offenders.append(
                    f"azure-pipelines {stage['stage']}/{job.get('job') or job.get('deployment')}: pool {pool}"
                )
    return offenders


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle)
    return loaded


def test_no_data_plane_job_runs_on_a_hosted_runner(root: Path) -> None:
    assert hosted_data_plane_jobs(_yaml(root / RELEASE), _yaml(root / AZURE_PIPELINE)) == []


def test_a_dev_job_on_a_hosted_runner_is_caught(root: Path) -> None:
    release, azure = _yaml(root / RELEASE), _yaml(root / AZURE_PIPELINE)
    release["jobs"]["dev-plan"]["runs-on"] = "ubuntu-latest"
    release["jobs"]["prod-apply"]["runs-on"]["labels"] = ["ubuntu-24.04"]
    dev = next(stage for stage in azure["stages"] if stage["stage"] == "dev")
    dev["jobs"][0]["pool"] = {"vmImage": "ubuntu-latest"}
    assert hosted_data_plane_jobs(release, azure) == [
        "github dev-plan: runner ubuntu-latest",
        "github prod-apply: runner {'group': \"${{ vars.PROD_RUNNER_GROUP || 'forecast-stack-prod' }}\", "
        "'labels': ['ubuntu-24.04']}",
        "azure-pipelines dev/plan: pool {'vmImage': 'ubuntu-latest'}",
    ]


def runner_egress_findings(tree: Path) -> list[str]:
    """The runner's egress is one static address dev's firewalls can name: a Standard static public
    IP on a NAT gateway associated with the runner subnet, and the address in the bootstrap output."""
    runner = _load(tree / BOOTSTRAP / "main.runner.tf")
    findings = []
    ips = _blocks(runner, "resource", "azurerm_public_ip")
    if not any(_unquote(ip.get("allocation_method")) == "Static" for ip in ips):
        findings.append("no static public IP for the runner's egress")
    if not _blocks(runner, "resource", "azurerm_nat_gateway_public_ip_association"):
        findings.append("the NAT gateway has no public IP")
    associations = _blocks(runner, "resource", "azurerm_subnet_nat_gateway_association")
    if not any("azurerm_subnet.runner" in str(a.get("subnet_id")) for a in associations):
        findings.append("the runner subnet sends its egress through no NAT gateway")
    if "egress_ip" not in _text(tree / BOOTSTRAP / "outputs.tf"):
        findings.append("the bootstrap does not output the runner's egress IP")
    return findings


def test_the_runner_has_one_static_egress_ip(root: Path) -> None:
    assert runner_egress_findings(root) == []


def test_a_runner_without_its_nat_gateway_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "envs/bootstrap/main.runner.tf",
        'resource "azurerm_subnet_nat_gateway_association" "runner" {',
        'resource "azurerm_subnet_network_security_group_association" "runner_unused" {',
    )
    assert runner_egress_findings(tree) == ["the runner subnet sends its egress through no NAT gateway"]


# --- dev has its own runner: no dev job on prod's runner, no path from dev's to prod's -------------
# Code merged to main (not reviewed for prod) runs dev's jobs; every step can ask the Container Apps
# identity endpoint for the runner identity's token
# (https://learn.microsoft.com/azure/container-apps/managed-identity), so a dev job on prod's runner,
# or a dev runner that reads prod's registration token or reaches prod's VNet, could register a
# runner labelled as prod's and receive prod's jobs and OIDC token.
# https://docs.github.com/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions#hardening-for-self-hosted-runners

RUNNER_DEFAULT = re.compile(
    r'\b(?P<env>dev|prod)\s*=\s*\{[^{}]*?runner_group\s*=\s*"(?P<pool>[^"]+)"[^{}]*?'
    r"labels\s*=\s*\[(?P<labels>[^\]]*)\]"
)


def runner_defaults(tree: Path) -> dict[str, tuple[set[str], str]]:
    """The bootstrap's per-environment runner labels and GitHub runner group (var.ci_runner.environments;
    the Azure DevOps pools are named per environment by naming.tf, which refuses equal names)."""
    variable = next(
        body for body in _blocks(_load(tree / BOOTSTRAP / "variables.tf"), "variable", "ci_runner")
    )
    return {
        m["env"]: ({_unquote(label.strip()) for label in m["labels"].split(",") if label.strip()}, m["pool"])
        for m in RUNNER_DEFAULT.finditer(str(variable["type"]))
    }


def dev_on_prod_runner_findings(
    release: dict[str, Any], azure: dict[str, Any], defaults: dict[str, tuple[set[str], str]]
) -> list[str]:
    findings: list[str] = []
    if set(defaults) != {"dev", "prod"}:
        return [f"the bootstrap declares runners for {sorted(defaults)}, not one each for dev and prod"]
    (dev_labels, dev_pool), (prod_labels, prod_pool) = defaults["dev"], defaults["prod"]
    if dev_labels & prod_labels:
        findings.append(f"dev's and prod's runners share the label(s) {sorted(dev_labels & prod_labels)}")
    if dev_pool == prod_pool:
        findings.append(f"dev's and prod's runners share the runner group {dev_pool}")
    for name, job in release["jobs"].items():
        environment = str(job.get("environment", "")).removesuffix("-plan")
        if environment not in {"dev", "prod"}:
            continue
        runner = str(job["runs-on"])
        other = "prod" if environment == "dev" else "dev"
        other_labels = prod_labels if environment == "dev" else dev_labels
        other_group = prod_pool if environment == "dev" else dev_pool
        names_other = any(f"'{label}'" in runner for label in other_labels) or f"'{other_group}'" in runner
        if f"{other.upper()}_RUNNER_" in runner or names_other:
            findings.append(f"github {name} ({environment}) may run on {other}'s runner: {runner}")
    for stage in azure["stages"]:
        environment = str(stage["stage"]).split("_")[0]
        if environment not in {"dev", "prod"}:
            continue
        other = "prod" if environment == "dev" else "dev"
        for job in stage["jobs"]:
            pool = str(job.get("pool", stage.get("pool", {})).get("name", ""))
            if pool != f"$({environment.upper()}_AGENT_POOL)":
                findings.append(
                    f"azure-pipelines {stage['stage']}/{job.get('job') or job.get('deployment')} "
                    f"({environment}) may run on {other}'s pool: {pool}"
                )
    return findings


def test_no_dev_job_can_run_on_prod_s_runner(root: Path) -> None:
    findings = dev_on_prod_runner_findings(
        _yaml(root / RELEASE), _yaml(root / AZURE_PIPELINE), runner_defaults(root)
    )
    assert findings == []


def test_a_dev_job_falling_back_to_prod_s_runner_is_caught(root: Path) -> None:
    # The review's finding: dev fell back to prod's label, and DEV_AGENT_POOL could name prod's pool.
    release, azure = _yaml(root / RELEASE), _yaml(root / AZURE_PIPELINE)
    release["jobs"]["dev-plan"]["runs-on"]["labels"] = (
        "${{ vars.DEV_RUNNER_LABEL || vars.PROD_RUNNER_LABEL || 'forecast-stack-prod' }}"
    )
    dev = next(stage for stage in azure["stages"] if stage["stage"] == "dev")
    dev["jobs"][0]["pool"] = {"name": "$(PROD_AGENT_POOL)"}
    defaults = {
        "dev": ({"forecast-stack-prod"}, "forecast-stack-prod"),
        "prod": runner_defaults(root)["prod"],
    }
    assert dev_on_prod_runner_findings(release, azure, defaults) == [
        "dev's and prod's runners share the label(s) ['forecast-stack-prod']",
        "dev's and prod's runners share the runner group forecast-stack-prod",
        "github dev-plan (dev) may run on prod's runner: " + str(release["jobs"]["dev-plan"]["runs-on"]),
        # with the shared label, prod's default is dev's label too
        "github prod-plan (prod) may run on dev's runner: " + str(release["jobs"]["prod-plan"]["runs-on"]),
        "github prod-apply (prod) may run on dev's runner: " + str(release["jobs"]["prod-apply"]["runs-on"]),
        "azure-pipelines dev/plan (dev) may run on prod's pool: $(PROD_AGENT_POOL)",
    ]
    # With the bootstrap's own (distinct) labels, the workflow fallback alone is caught.
    assert dev_on_prod_runner_findings(release, azure, runner_defaults(root)) == [
        "github dev-plan (dev) may run on prod's runner: " + str(release["jobs"]["dev-plan"]["runs-on"]),
        "azure-pipelines dev/plan (dev) may run on prod's pool: $(PROD_AGENT_POOL)",
    ]
    assert dev_on_prod_runner_findings(release, azure, {"prod": defaults["prod"]}) == [
        "the bootstrap declares runners for ['prod'], not one each for dev and prod"
    ]


# Per runner: these exist once per environment (for_each), never one shared by dev and prod.
PER_RUNNER = (
    "azurerm_virtual_network",
    "azurerm_subnet",
    "azurerm_nat_gateway",
    "azurerm_public_ip",
)


def runner_isolation_findings(tree: Path) -> list[str]:
    """Dev's runner has its own VNet (peered with nothing), subnet, NAT gateway and egress IP, and
    its own runner resource; only prod's runner VNet is peered with prod's."""
    findings: list[str] = []
    runner = _load(tree / BOOTSTRAP / "main.runner.tf")
    main = _load(tree / BOOTSTRAP / "main.tf")
    for type_name in PER_RUNNER:
        for body in _blocks(runner, "resource", type_name):
            if "local.runners" not in str(body.get("for_each", "")):
                findings.append(f"{type_name}.runner is shared by dev's and prod's runners")
    for module in _blocks(runner, "module", "ci_runner"):
        if "local.runners" not in str(module.get("for_each", "")):
            findings.append("module ci_runner: one runner job serves dev and prod")
        for attribute, reference in (
            ("subnet_id", "azurerm_subnet.runner[each.key]"),
            ("name", "local.names.runner[each.key]"),
        ):
            if reference not in str(module.get(attribute)):
                findings.append(f"module ci_runner: {attribute} is not the runner's own ({reference})")
    if any(_blocks(document, "resource", "azurerm_virtual_network_peering") for document in (runner, main)):
        findings.append("the bootstrap peers a runner VNet")
    rbac = re.sub(r"\s+", " ", _text(tree / BOOTSTRAP / "main.rbac.tf"))
    for entry in re.finditer(
        r'(?P<key>[\w-]+) = \{ principal = "(?P<principal>\w+)" env = "(?P<env>\w+)" scope = (?P<scope>\S+)',
        rbac,
    ):
        other = "prod" if entry["env"] == "dev" else "dev"
        if f'runner["{other}"]' in entry["scope"] or (
            entry["env"] == "dev" and "[*]" in entry["scope"] and "key_vault" in entry["scope"]
        ):
            findings.append(
                f"{entry['key']}: {entry['env']}'s identity holds a role on {other}'s runner resources"
            )
    dev_network = hcl2.loads((tree / "envs/dev/terraform.tfvars").read_text(encoding="utf-8")).get(
        "ci_runner_network"
    )
    if dev_network is not None:
        findings.append(f"envs/dev peers the runner VNet {_unquote(dev_network.get('virtual_network_name'))}")
    prod_network = hcl2.loads((tree / "envs/prod/terraform.tfvars").read_text(encoding="utf-8")).get(
        "ci_runner_network"
    )
    names = re.search(
        r'runner_vnet\s*=\s*\{[^\n]*\bprod\s*=\s*"(?P<prod>[^"]+)"', _text(tree / BOOTSTRAP / "naming.tf")
    )
    if names is None:
        findings.append("the bootstrap names no prod runner VNet (local.names.runner_vnet.prod)")
    elif prod_network is not None:
        # envs/prod/terraform.tfvars holds the example's workload (fcst) and region (weu).
        expected = names["prod"].replace("${var.workload}", "fcst").replace("${var.location_short}", "weu")
        peered = _unquote(prod_network.get("virtual_network_name"))
        if peered != expected:
            findings.append(f"envs/prod peers {peered}, not prod's runner VNet {expected}")
    return findings


def test_dev_s_runner_is_isolated_from_prod(root: Path) -> None:
    assert runner_isolation_findings(root) == []


def test_a_dev_runner_peered_to_prod_or_sharing_its_network_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "envs/bootstrap/main.runner.tf",
        "subnet_id           = azurerm_subnet.runner[each.key].id",
        'subnet_id           = azurerm_subnet.runner["prod"].id',
    )
    edit(
        "envs/bootstrap/main.rbac.tf",
        'prod-plan-runner-vnet = {\n        principal       = "plan"\n        env             = "prod"',
        'prod-plan-runner-vnet = {\n        principal       = "plan"\n        env             = "dev"',
    )
    edit(
        "envs/dev/terraform.tfvars",
        "ci_runner_network = null",
        'ci_runner_network = { virtual_network_name = "vnet-fcst-ci-weu", '
        'resource_group_name = "rg-fcst-bootstrap-weu" }',
    )
    edit("envs/prod/terraform.tfvars", '"vnet-fcst-ci-weu"', '"vnet-fcst-ci-dev-weu"')
    assert runner_isolation_findings(tree) == [
        "module ci_runner: subnet_id is not the runner's own (azurerm_subnet.runner[each.key])",
        "prod-plan-runner-vnet: dev's identity holds a role on prod's runner resources",
        "envs/dev peers the runner VNet vnet-fcst-ci-weu",
        "envs/prod peers vnet-fcst-ci-dev-weu, not prod's runner VNet vnet-fcst-ci-weu",
    ]


def test_one_runner_shared_by_dev_and_prod_is_caught(tree: Path, edit: Edit) -> None:
    # The review's tree: one count-based runner (VNet, runner) for both environments.
    edit(
        "envs/bootstrap/main.runner.tf",
        'resource "azurerm_virtual_network" "runner" {\n  for_each = local.runners',
        'resource "azurerm_virtual_network" "runner" {\n  count = var.ci_runner.enabled ? 1 : 0',
    )
    edit(
        "envs/bootstrap/main.runner.tf",
        "  for_each = local.runners\n\n  name                = local.names.runner[each.key]",
        "  count = 1\n\n  name                = local.names.runner[each.key]",
    )
    assert runner_isolation_findings(tree) == [
        "azurerm_virtual_network.runner is shared by dev's and prod's runners",
        "module ci_runner: one runner job serves dev and prod",
    ]


# --- each stack's storage VNet rules name a subnet its deploying identity may join -----------------
# Adding a subnet to a storage account's VNet rules needs
# Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action on that subnet
# (https://learn.microsoft.com/azure/storage/common/storage-network-security-virtual-networks#required-permissions);
# the runner subnets live in the bootstrap's group, where Contributor on the stack's group does not
# reach (review 22 runtime N3: LinkedAuthorizationFailed on dev's first apply).
JOIN_ACTION = "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action"
JOIN_ENTRY = re.compile(
    r'principal\s*=\s*"deploy"[^{}]*?scope\s*=\s*azurerm_subnet\.runner\[(?P<env>[^\]]+)\]\.id[^{}]*?'
    r"role_definition\s*=\s*azurerm_role_definition\.(?P<definition>\w+)\[(?P<def_env>[^\]]+)\]"
)


def subnet_join_findings(tree: Path) -> list[str]:
    """Each env whose tfvars set ci_runner_subnet_id names its own runner's subnet, and the bootstrap
    gives that env's deploying identity joinViaServiceEndpoint on exactly that subnet."""
    rbac = _load(tree / BOOTSTRAP / "main.rbac.tf")
    joiners = {
        _unquote(name)
        for entry in rbac.get("resource", [])
        for kind, blocks in entry.items()
        if _unquote(kind) == "azurerm_role_definition"
        for name, body in blocks.items()
        if any(JOIN_ACTION in str(p.get("actions")) for p in body.get("permissions", []))
        and "azurerm_subnet.runner[each.key].id" in str(body.get("assignable_scopes"))
    }
    text = _text(tree / BOOTSTRAP / "main.rbac.tf")
    merged = re.search(r"role_assignments = merge\((?P<locals>[^)]*)\)", text)
    granted = {
        m["env"]
        for m in JOIN_ENTRY.finditer(text)
        if m["definition"] in joiners
        and m["env"] == m["def_env"]
        # the local holding the entry is one of the assignments made
        and merged
        and f"local.{re.findall(r'^  ([a-z_]+) = ', text[: m.start()], re.M)[-1]}" in merged["locals"]
    }
    joining = _joining_environments(tree, text)
    naming = _text(tree / BOOTSTRAP / "naming.tf")
    names = re.search(r"runner_vnet\s*=\s*\{(?P<body>.*)\}\s*$", naming, re.M)
    findings: list[str] = []
    for env in ("dev", "prod"):
        tfvars = hcl2.loads((tree / f"envs/{env}/terraform.tfvars").read_text(encoding="utf-8"))
        subnet = tfvars.get("ci_runner_subnet_id")
        if subnet in (None, "null", "${null}"):
            if env in joining:
                findings.append(
                    f"envs/{env} admits no runner subnet (ci_runner_subnet_id null); "
                    "its deployer may still join one"
                )
            continue
        vnet = re.search(rf'\b{env}\s*=\s*"(?P<name>[^"]+)"', names["body"]) if names else None
        expected = (
            vnet["name"].replace("${var.workload}", "fcst").replace("${var.location_short}", "weu")
            if vnet
            else "?"
        )
        if f"/virtualNetworks/{expected}/subnets/runners" not in _unquote(subnet):
            findings.append(
                f"envs/{env}: ci_runner_subnet_id is not {env}'s runner subnet ({expected}/runners)"
            )
        if ("env" not in granted or env not in joining) and f'"{env}"' not in granted:
            findings.append(f"envs/{env} admits the runner subnet by VNet rule; its deployer may not join it")
    return findings


def _joining_environments(tree: Path, text: str) -> set[str]:
    """The environments local.subnet_join_roles iterates: local.runner_subnet_join_environments when
    it loops over local.subnet_joining_runners filtered by that list, else (fails closed) both."""
    loop = re.search(r"subnet_join_roles = \{\s*for env in keys\(local\.(\w+)\)", text)
    model = read_dir(tree / BOOTSTRAP)
    if loop and "local.runner_subnet_join_environments" in str(model.locals.get(loop[1], "")):
        definition = next(
            b for b in model.blocks if b.address == "azurerm_role_definition.runner_subnet_join"
        )
        if definition.body.get("for_each") == f"${{local.{loop[1]}}}":
            return {str(env) for env in model.locals.get("runner_subnet_join_environments", [])}
    return {"dev", "prod"}


def test_each_stack_may_join_the_runner_subnet_its_storage_admits(root: Path) -> None:
    assert subnet_join_findings(root) == []


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        # main's tree: no such role at all
        (
            "envs/bootstrap/main.rbac.tf",
            "local.runner_roles, local.subnet_join_roles,",
            "local.runner_roles,",
            "envs/dev admits the runner subnet by VNet rule; its deployer may not join it",
        ),
        # the role on the other environment's subnet
        (
            "envs/bootstrap/main.rbac.tf",
            "scope           = azurerm_subnet.runner[env].id",
            'scope           = azurerm_subnet.runner["prod"].id',
            "envs/dev admits the runner subnet by VNet rule; its deployer may not join it",
        ),
        # a role without the action
        (
            "envs/bootstrap/main.rbac.tf",
            '      "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",\n',
            '      "Microsoft.Network/virtualNetworks/subnets/read",\n',
            "envs/dev admits the runner subnet by VNet rule; its deployer may not join it",
        ),
        # dev's tfvars naming prod's runner subnet
        (
            "envs/dev/terraform.tfvars",
            "virtualNetworks/vnet-fcst-ci-dev-weu/subnets/runners",
            "virtualNetworks/vnet-fcst-ci-weu/subnets/runners",
            "envs/dev: ci_runner_subnet_id is not dev's runner subnet (vnet-fcst-ci-dev-weu/runners)",
        ),
        # review tffix MINOR-4 (main's loop): every runner's environment may join, prod included
        (
            "envs/bootstrap/main.rbac.tf",
            "for env in keys(local.subnet_joining_runners) :",
            "for env in keys(local.runners) :",
            "envs/prod admits no runner subnet (ci_runner_subnet_id null); its deployer may still join one",
        ),
        # prod added to the joining list while its tfvars admit no subnet
        (
            "envs/bootstrap/main.rbac.tf",
            'runner_subnet_join_environments = ["dev"]',
            'runner_subnet_join_environments = ["dev", "prod"]',
            "envs/prod admits no runner subnet (ci_runner_subnet_id null); its deployer may still join one",
        ),
        # dev dropped from the joining list while its tfvars admit its subnet
        (
            "envs/bootstrap/main.rbac.tf",
            'runner_subnet_join_environments = ["dev"]',
            "runner_subnet_join_environments = []",
            "envs/dev admits the runner subnet by VNet rule; its deployer may not join it",
        ),
    ],
    ids=[
        "no-role",
        "other-subnet",
        "no-action",
        "prod-subnet-in-dev",
        "every-env",
        "prod-listed",
        "dev-unlisted",
    ],
)
def test_a_subnet_the_deployer_cannot_join_is_caught(
    tree: Path, edit: Edit, path: str, old: str, new: str, expected: str
) -> None:
    edit(path, old, new)
    assert expected in subnet_join_findings(tree)


# --- the RBAC Administrator condition is an allow-list of the roles infra/ assigns -----------------
# https://learn.microsoft.com/azure/role-based-access-control/delegate-role-assignments-examples#example-constrain-roles-and-principal-types

PRIVILEGED = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168",  # Role Based Access Control Administrator
    "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
}
ASSIGNED_ROLE = re.compile(r'\brole(?:_definition_name)?\s*=\s*"(?P<role>[^"]+)"')


def rbac_condition_findings(tree: Path) -> list[str]:
    """Every role infra/ and modules/ assign by name is in the bootstrap's allow-list; the list holds
    no privileged role; the condition allows (GuidEquals) rather than denies, and only service
    principals."""
    variables = _blocks(_load(tree / BOOTSTRAP / "variables.tf"), "variable", "assignable_role_ids")
    if not variables:
        return ["envs/bootstrap has no allow-list of assignable roles (var.assignable_role_ids)"]
    allowed = {_unquote(name): _unquote(guid) for name, guid in variables[0]["default"].items()}
    findings = [f"{name} ({guid}) is privileged" for name, guid in allowed.items() if guid in PRIVILEGED]
    assigned = set()
    for path in [*(tree / "infra").glob("*.tf"), *(tree / "modules").rglob("*.tf")]:
        assigned |= {m["role"] for m in ASSIGNED_ROLE.finditer(_text(path))}
    findings += [
        f"infra/ assigns {role}, which the condition refuses" for role in sorted(assigned - set(allowed))
    ]
    # Least privilege the other way too: a role nobody assigns is one more the deploying identity
    # could hand any service principal.
    unused = sorted(set(allowed) - assigned)
    findings += [f"the allow-list admits {role}, which infra/ never assigns" for role in unused]
    rbac = _text(tree / BOOTSTRAP / "main.rbac.tf")
    if "GuidNotEquals" in rbac or rbac.count("ForAnyOfAnyValues:GuidEquals") != 2:
        findings.append("the RBAC Administrator condition is not an allow-list on both write and delete")
    if rbac.count("PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}") != 2:
        findings.append("the condition does not limit the principal type to service principals")
    return findings


def test_the_rbac_administrator_condition_allows_only_what_infra_assigns(root: Path) -> None:
    assert rbac_condition_findings(root) == []


def test_the_review_s_deny_list_and_an_unlisted_role_are_caught(tree: Path, edit: Edit) -> None:
    edit(
        "envs/bootstrap/main.rbac.tf",
        "RoleDefinitionId] ForAnyOfAnyValues:GuidEquals",
        "RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals",
    )
    edit("infra/main.rbac.tf", 'role = "AzureML Data Scientist"', 'role = "AzureML Compute Operator"')
    edit(
        "envs/bootstrap/variables.tf",
        '"AcrPull"                       = "7f951dda',
        '"Contributor"                   = "b24988ac-6180-42a0-ab88-20f7382dd24c"\n'
        '    "AcrPull"                       = "7f951dda',
    )
    assert rbac_condition_findings(tree) == [
        "Contributor (b24988ac-6180-42a0-ab88-20f7382dd24c) is privileged",
        "infra/ assigns AzureML Compute Operator, which the condition refuses",
        "the allow-list admits AzureML Data Scientist, which infra/ never assigns",
        "the allow-list admits Contributor, which infra/ never assigns",
        "the RBAC Administrator condition is not an allow-list on both write and delete",
    ]


# --- every role assignment the deploying identity writes states a principal type the condition admits
# The condition tests @Request[...:PrincipalType]; azurerm sends principalType only when
# principal_type is set (hashicorp/terraform-provider-azurerm v5.2.0-14,
# internal/services/authorization/role_assignment_resource.go Create, and
# website/docs/r/role_assignment.html.markdown: "It is necessary to explicitly set this attribute
# when creating role assignments if the principal creating the assignment is constrained by ABAC
# rules that filters on the PrincipalType attribute"). Without it, or with another type, the
# first apply of dev and prod stops with 403 (review 22 N1, runtime review N1 and N2).

CONDITION_TYPES = re.compile(r"PrincipalType\] ForAnyOfAnyValues:StringEqualsIgnoreCase \{(?P<types>[^}]*)\}")


def _stack_files(tree: Path) -> list[Path]:
    """The .tf files the deploying identity applies: infra/ and each module (not their examples)."""
    return sorted([*(tree / "infra").glob("*.tf"), *(tree / "modules").glob("*/*.tf")])


def role_assignment_type_findings(tree: Path) -> list[str]:
    """Each azurerm_role_assignment in infra/ and modules/ sets principal_type to a literal the
    bootstrap's RBAC Administrator condition admits (on write and on delete alike)."""
    rbac = _text(tree / BOOTSTRAP / "main.rbac.tf")
    per_action = [
        {kind.strip().strip("'").lower() for kind in match["types"].split(",")}
        for match in CONDITION_TYPES.finditer(rbac)
    ]
    admitted = set.intersection(*per_action) if per_action else set()
    findings: list[str] = []
    for path in _stack_files(tree):
        for entry in _load(path).get("resource", []):
            for kind, instances in entry.items():
                if _unquote(kind) != "azurerm_role_assignment":
                    continue
                for name, body in instances.items():
                    where = f"{path.relative_to(tree)}: azurerm_role_assignment.{_unquote(name)}"
                    value, only = body.get("principal_type"), f"({sorted(admitted)} only)"
                    if value is None:
                        findings.append(f"{where} sets no principal_type")
                    elif _unquote(value).lower() not in admitted:
                        findings.append(f"{where}: principal_type {_unquote(value)} {only}")
    return findings


def test_every_role_assignment_states_a_principal_type_the_condition_admits(root: Path) -> None:
    assert role_assignment_type_findings(root) == []


def test_a_missing_or_refused_principal_type_is_caught(tree: Path, edit: Edit) -> None:
    # main's own fault (the deployer's data role), a group, an expression the check cannot read as
    # the admitted literal, and a new module's assignment with none.
    service_principal = '\n  principal_type       = "ServicePrincipal"'
    rbac = "infra/main.rbac.tf"
    edit(rbac, f"principal_id         = local.deployer{service_principal}", "principal_id = local.deployer")
    edit(
        "infra/main.rbac.tf",
        f"principal_id         = module.aml_workspace.principal_id{service_principal}",
        'principal_id         = module.aml_workspace.principal_id\n  principal_type       = "Group"',
    )
    edit(
        "infra/main.rbac.tf",
        '  principal_id         = each.value.principal_id\n  principal_type       = "ServicePrincipal"',
        "  principal_id         = each.value.principal_id\n  principal_type       = var.principal_type",
    )
    (tree / "modules" / "sql" / "main.extra.tf").write_text(
        'resource "azurerm_role_assignment" "admin" {\n  scope = "x"\n  role_definition_name = "Reader"\n'
        '  principal_id = "y"\n}\n',
        encoding="utf-8",
    )
    only = "(['serviceprincipal'] only)"
    assert role_assignment_type_findings(tree) == [
        f"infra/main.rbac.tf: azurerm_role_assignment.this: principal_type ${{var.principal_type}} {only}",
        "infra/main.rbac.tf: azurerm_role_assignment.deployer sets no principal_type",
        f"infra/main.rbac.tf: azurerm_role_assignment.network_approver: principal_type Group {only}",
        "modules/sql/main.extra.tf: azurerm_role_assignment.admin sets no principal_type",
    ]


def test_a_condition_that_admits_no_principal_type_refuses_everything(tree: Path, edit: Edit) -> None:
    rbac = tree / BOOTSTRAP / "main.rbac.tf"
    text = rbac.read_text(encoding="utf-8")
    rbac.write_text(text.replace("{'ServicePrincipal'}", "{'User'}"), encoding="utf-8")
    assert len(role_assignment_type_findings(tree)) == 3  # infra/'s three assignment resources


# --- azapi types that azapi's embedded schema lacks plan only with schema validation off ------------

# Resource types (with API version) that azapi's embedded schema does not carry, so `terraform plan`
# fails with "embedded schema validation failed: the `type` is invalid" unless the resource sets
# schema_validation_enabled = false. Source: https://github.com/Azure/terraform-provider-azapi/issues/447
# (GitHub.Network/networkSettings@2024-04-02, this exact error) and
# https://github.com/Azure/azure-rest-api-specs/issues/29307 (no published spec for GitHub.Network,
# which the embedded schema is generated from).
AZAPI_TYPES_WITHOUT_SCHEMA = ("GitHub.Network/",)
TERRAFORM_DIRS = ("modules", "infra", "envs")


def azapi_schema_findings(tree: Path) -> list[str]:
    """Each azapi_resource of a type azapi's schema lacks sets schema_validation_enabled = false."""
    findings: list[str] = []
    for directory in TERRAFORM_DIRS:
        for path in sorted((tree / directory).rglob("*.tf")):
            if path.is_symlink() or ".terraform" in path.parts:
                continue
            for entry in _load(path).get("resource", []):
                resources = {_unquote(k): v for k, v in entry.items()}.get("azapi_resource", {})
                for name, body in resources.items():
                    kind = _unquote(body.get("type", ""))
                    if kind.startswith(AZAPI_TYPES_WITHOUT_SCHEMA) and body.get(
                        "schema_validation_enabled", True
                    ) not in (False, "false"):
                        where = path.relative_to(tree)
                        findings.append(
                            f"{where}: azapi_resource.{_unquote(name)} ({kind}) validates its schema"
                        )
    return findings


def test_an_azapi_type_missing_from_its_schema_turns_validation_off(root: Path) -> None:
    assert azapi_schema_findings(root) == []


def test_an_azapi_type_missing_from_its_schema_with_validation_on_is_caught(tree: Path, edit: Edit) -> None:
    # the review's finding 2: the line missing (validation defaults to on)
    edit("modules/ci_runner/main.tf", "  schema_validation_enabled = false\n", "")
    assert azapi_schema_findings(tree) == [
        "modules/ci_runner/main.tf: azapi_resource.network_settings "
        "(GitHub.Network/networkSettings@2024-04-02) validates its schema"
    ]
    # validation turned on explicitly
    edit(
        "modules/ci_runner/main.tf",
        "  tags      = var.tags\n",
        "  tags      = var.tags\n  schema_validation_enabled = true\n",
    )
    assert len(azapi_schema_findings(tree)) == 1
    # another GitHub.Network resource in another root, at a newer API version
    (tree / "infra" / "extra_network.tf").write_text(
        'resource "azapi_resource" "gh" {\n  type = "GitHub.Network/networkSettings@2025-01-01"\n'
        '  name = "x"\n  parent_id = "y"\n}\n',
        encoding="utf-8",
    )
    assert "infra/extra_network.tf: azapi_resource.gh" in " ".join(azapi_schema_findings(tree))


# --- review 23, A7: the saved plan in the one-day artifact holds no usable credential ---------------
# The saved plan (tfplan) travels from the plan job to the apply job as an artifact that repository
# readers may read for a day, and its prior state holds the resources' sensitive attributes: the
# workspace's and Application Insights' shared keys, the storage accounts' access keys. They are no
# credential while the services refuse them (local authentication off, shared keys off, SQL
# Entra-only); this keeps the residual of docs/release-path.md true.
NO_KEY_AUTH = [
    ("modules/monitoring", "azurerm_log_analytics_workspace", "local_authentication_enabled", False),
    ("modules/monitoring", "azurerm_application_insights", "local_authentication_enabled", False),
    ("modules/data_lake", "azurerm_storage_account", "shared_access_key_enabled", False),
    ("modules/aml_workspace", "azurerm_storage_account", "shared_access_key_enabled", False),
]


def usable_plan_secret_findings(tree: Path) -> list[str]:
    findings = []
    for directory, kind, attribute, wanted in NO_KEY_AUTH:
        blocks = [b for b in read_dir(tree / directory).blocks if b.type == kind]
        if not blocks:
            findings.append(f"{directory}: no {kind} to check")
        findings += [
            f"{directory}: {b.address} {attribute} = {b.body.get(attribute)!r}: its key in the saved plan "
            "would be a usable credential"
            for b in blocks
            if b.body.get(attribute) is not wanted
        ]
    for server in (b for b in read_dir(tree / "modules/sql").blocks if b.type == "azurerm_mssql_server"):
        admins = server.body.get("azuread_administrator") or [{}]
        if not all(admin.get("azuread_authentication_only") is True for admin in admins):
            findings.append(f"modules/sql: {server.address} accepts SQL logins (not Entra-only)")
    return findings


def test_the_saved_plan_carries_no_usable_credential(root: Path) -> None:
    assert usable_plan_secret_findings(root) == []


def test_a_key_that_works_again_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "modules/monitoring/main.tf",
        "local_authentication_enabled = false",
        "local_authentication_enabled = true",
    )
    edit(
        "modules/data_lake/main.tf",
        "shared_access_key_enabled         = false",
        "shared_access_key_enabled = true",
    )
    edit("modules/sql/main.tf", "azuread_authentication_only = true", "azuread_authentication_only = false")
    assert usable_plan_secret_findings(tree) == [
        "modules/monitoring: azurerm_log_analytics_workspace.this local_authentication_enabled = True: "
        "its key in the saved plan would be a usable credential",
        "modules/data_lake: azurerm_storage_account.this shared_access_key_enabled = True: "
        "its key in the saved plan would be a usable credential",
        "modules/sql: azurerm_mssql_server.this accepts SQL logins (not Entra-only)",
    ]


# --- infra/README's rights table says what the bootstrap grants (review tffix MINOR-3) -------------
RIGHTS_TABLE = re.compile(r"\*\*Rights of the deploying identity\*\*\n\n(?P<table>(?:\|.*\n)+)")


def rights_table_findings(tree: Path) -> list[str]:
    """The deploying identity's rights table in infra/README.md against envs/bootstrap: the stack
    group's name pattern, every role of the RBAC Administrator condition's allow-list, and the
    runner-subnet join role with the environments that get it."""
    readme = (tree / "infra/README.md").read_text(encoding="utf-8")
    table = RIGHTS_TABLE.search(readme)
    if table is None:
        return ["infra/README.md has no rights table under **Rights of the deploying identity**"]
    rows = table["table"].splitlines()
    model = read_dir(tree / BOOTSTRAP)
    findings: list[str] = []
    group = re.search(r'"(rg-[^"]+)"', str(model.locals["names"]["stack_resource_group"]))
    pattern = (
        group[1]
        .replace("${var.workload}", "<workload>")
        .replace("${env}", "<env>")
        .replace("${var.location_short}", "<region short>")
        if group
        else "?"
    )
    if f"`{pattern}`" not in table["table"]:
        findings.append(f"infra/README.md: the stack group is `{pattern}` (envs/bootstrap/naming.tf)")
    admin = next((row for row in rows if row.startswith("| Role Based Access Control Administrator")), "")
    findings += [
        f"infra/README.md: the RBAC Administrator row leaves out {role} (var.assignable_role_ids)"
        for role in model.variables["assignable_role_ids"].default
        if role not in admin
    ]
    joining = sorted(_joining_environments(tree, _text(tree / BOOTSTRAP / "main.rbac.tf")))
    join = next((row for row in rows if "runner subnet service endpoint join" in row), "")
    if not join:
        findings.append("infra/README.md: no row for the runner subnet service endpoint join role")
    elif f"{' and '.join(joining)} only" not in join:
        findings.append(
            f"infra/README.md: the runner subnet join row does not say `{' and '.join(joining)} only`"
        )
    return findings


def test_the_rights_table_says_what_the_bootstrap_grants(root: Path) -> None:
    assert rights_table_findings(root) == []


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        # main's README (review tffix MINOR-3): a suffix the group does not have
        (
            "infra/README.md",
            "`rg-<workload>-<env>-<region short>`",
            "`rg-<workload>-<env>-<region>-<suffix>`",
            "infra/README.md: the stack group is `rg-<workload>-<env>-<region short>` "
            "(envs/bootstrap/naming.tf)",
        ),
        # main's README: AcrPush missing from the allow-list
        (
            "infra/README.md",
            "AcrPull, AcrPush, Monitoring",
            "AcrPull, Monitoring",
            "infra/README.md: the RBAC Administrator row leaves out AcrPush (var.assignable_role_ids)",
        ),
        # main's README: no subnet join row
        (
            "infra/README.md",
            "| forecast-stack runner subnet service endpoint join",
            "| forecast-stack runner subnet",
            "infra/README.md: no row for the runner subnet service endpoint join role",
        ),
        # the role given to prod too while the README says dev only
        (
            "envs/bootstrap/main.rbac.tf",
            'runner_subnet_join_environments = ["dev"]',
            'runner_subnet_join_environments = ["dev", "prod"]',
            "infra/README.md: the runner subnet join row does not say `dev and prod only`",
        ),
        # a new role in the allow-list that the README does not name
        (
            "envs/bootstrap/variables.tf",
            '    "AcrPull"                       = "7f951dda-4ed3-4680-a7ca-43fe172d538d"\n',
            '    "AcrPull"                       = "7f951dda-4ed3-4680-a7ca-43fe172d538d"\n'
            '    "AcrDelete"                     = "c2f4ef07-c644-48eb-af81-4b1b4947fb11"\n',
            "infra/README.md: the RBAC Administrator row leaves out AcrDelete (var.assignable_role_ids)",
        ),
    ],
    ids=["group-suffix", "no-acrpush", "no-join-row", "join-for-prod", "new-allowed-role"],
)
def test_a_stale_rights_table_is_caught(
    tree: Path, edit: Edit, path: str, old: str, new: str, expected: str
) -> None:
    edit(path, old, new)
    assert expected in rights_table_findings(tree)


# --- infra/README's dataset move names the datasets the module declares (review runtimefix F4, -----
# review tffix2 MAJOR-1: a same-name import would be a refused replace, so the move is by new names)
DATASET_NAME = re.compile(
    r'(?s)resource "azurerm_data_factory_custom_dataset" "lake" \{.*?\n  name\s+= "([^"]+)"'
)
MOVE_SECTION = re.compile(r"(?s)\*\*A stack applied before the datasets became Binary\*\*(.*?)\n\n\*\*")


def migration_findings(tree: Path) -> list[str]:
    """infra/README.md's paragraph on the dataset move names the Binary datasets as the module
    declares them, and prescribes no `removed`/`import` blocks (adopting the old datasets under their
    names forces a replace the factory refuses)."""
    readme = (tree / "infra/README.md").read_text(encoding="utf-8")
    source = (tree / "modules/data_factory/main.pipeline.tf").read_text(encoding="utf-8")
    section, name = MOVE_SECTION.search(readme), DATASET_NAME.search(source)
    if section is None or name is None:
        return ["infra/README.md: no paragraph on the dataset move, or the module's datasets moved"]
    findings = [
        f"infra/README.md: does not name {declared}"
        for declared in (name.group(1).replace("${each.key}", fs) for fs in ("raw", "conditioned"))
        if f"`{declared}`" not in section.group(1)
    ]
    if "removed {" in section.group(1) or "import {" in section.group(1):
        findings.append("infra/README.md: prescribes removed/import blocks for the dataset move")
    return findings


def test_the_dataset_move_names_the_declared_datasets(root: Path) -> None:
    assert migration_findings(root) == []


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        ("infra/README.md", "`ds_raw_binary`", "`ds_raw`", "infra/README.md: does not name ds_raw_binary"),
        (
            "modules/data_factory/main.pipeline.tf",
            '"ds_${each.key}_binary"',
            '"ds_${each.key}_bin"',
            "infra/README.md: does not name ds_conditioned_bin",
        ),
        (
            "infra/README.md",
            "Nothing to do by hand:",
            "removed {\n  from = x\n}\nNothing to do by hand:",
            "infra/README.md: prescribes removed/import blocks for the dataset move",
        ),
    ],
    ids=["readme-old-name", "module-renamed", "removed-block"],
)
def test_a_wrong_dataset_move_is_caught(
    tree: Path, edit: Edit, path: str, old: str, new: str, expected: str
) -> None:
    edit(path, old, new)
    assert expected in migration_findings(tree)
