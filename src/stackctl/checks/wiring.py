"""Stack-wide Azure rules over infra/ (the composition), where checkov cannot follow the wiring.

checkov judges one resource at a time and does not carry `for_each` values or module outputs
across modules, so "who uses this storage account" and "what do the jobs reach" are invisible to
it (infra/policies/README.md). These rules read the declared configuration of infra/ and of the
modules it calls with python-hcl2's syntax tree (no evaluation: they follow references by name,
`module.<call>.<output>`, `local.<name>`, `azurerm_user_assigned_identity.<name>`), and are part
of `stackctl validate` (check "wiring"):

CKV_FS_12  every identity that uses a storage account with shared keys off holds a Storage Blob
           Data role on it (the account or one of its containers). Azure answers 403
           (AuthorizationPermissionMismatch) to any data-plane call without one.
           https://learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent
           https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage#scenarios-for-role-assignments
CKV_FS_13  every private resource an AML job reads or writes has a private-endpoint outbound rule
           of the workspace's managed network: the accounts its datastores point at (blob, dfs),
           the workspace's own storage (blob, file, queue, table: batch endpoints need queue and
           table), and each SQL server where the jobs' identity has a contained user (sqlServer).
           Without one, the managed network has no route and the job fails to connect.
           https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#list-of-required-rules
           https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#scenario-use-batch-endpoints-or-parallelrunstep
CKV_FS_14  every target of an AML output names AzureBlob datastores: Data Factory's OutputData (the
           `aml.datastores` input of a module call) and the deployments' default_datastore (`stack`
           output `aml.output_datastores`, read by stackctl.aml.specs). "Batch endpoints only support
           writing outputs in Blob Storage data stores"; a Gen2 datastore fails the job.
           https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs

Who uses what (CKV_FS_12), derived from the wiring, not listed by hand:
- a module call whose input refers to the account's module (`module.data_lake.*`) uses it with
  its identity (its `principal_id` output, or the user-assigned identities in its
  `managed_identities` input); the account's own module is not a user of it (AML grants the
  workspace's identity its roles on the workspace storage itself);
- an input that feeds AML datastores (a `for_each` of `azurerm_machine_learning_datastore_*`)
  makes everything that runs in that workspace a user too: the modules that refer to the
  workspace (`module.aml_workspace.resource_id`): the job clusters' identity, the factory that
  invokes batch endpoints;
- a workspace's own storage is used by everything that runs in the workspace, and by the
  deploying identity (`stackctl deploy` uploads code snapshots and build contexts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl.checks.findings import CheckReport, Finding, relative
from stackctl.checks.hclmodel import parse_file

CHECK = "wiring"
RULES = ("CKV_FS_12", "CKV_FS_13", "CKV_FS_14")
# The deploying identity is an input (issue 22 item 2): never azurerm_client_config, which in CI is
# the plan identity.
DEPLOYER = "var.deployer_object_id"
BLOB_DATA_ROLE = re.compile(r"^Storage Blob Data (Owner|Contributor|Reader)$")
# Sub-resources a job reaches on each kind of target (how-to-managed-network#list-of-required-rules).
DATASTORE_SUBRESOURCES = ("blob", "dfs")
WORKSPACE_STORAGE_SUBRESOURCES = ("blob", "file", "queue", "table")
SQL_SUBRESOURCES = ("sqlServer",)

_MODULE_REF = re.compile(r"\bmodule\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_UAI_REF = re.compile(r"\bazurerm_user_assigned_identity\.([A-Za-z0-9_-]+)\.(id|principal_id|client_id)\b")
_LOCAL_REF = re.compile(r"^local\.([A-Za-z0-9_]+)$")
_CONTAINER = "azurerm_storage_container."
_VAR_REF = re.compile(r"^var\.([A-Za-z0-9_]+)")
_ANY_LOCAL_REF = re.compile(r"\blocal\.([A-Za-z0-9_]+)")
# AML datastores created through ARM (azapi): datastores that azurerm cannot create identity-based.
AZAPI_DATASTORE_TYPE = "Microsoft.MachineLearningServices/workspaces/datastores@"
# Where the `stack` output names the deployments' default_datastore (stackctl.aml.specs).
DEFAULT_DATASTORE_OUTPUT = ("stack", "aml", "output_datastores")


def _expr(value: Any) -> str:
    """An expression as written, without its `${...}` wrapper."""
    text = str(value)
    return text[2:-1].strip() if text.startswith("${") and text.endswith("}") else text


def _document(file: Path) -> dict[str, Any]:
    """One file's body from the parse every check shares (hclmodel.parse_file, cached by content)."""
    parsed = parse_file(file)
    if parsed.error is not None:
        raise ValueError(f"{file}: cannot parse HCL: {parsed.error}")
    return parsed.data


@dataclass
class Directory:
    """The blocks of one Terraform directory, as python-hcl2 gives them."""

    path: Path
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # "<type>.<name>" or "module.<name>" -> file

    @classmethod
    def read(cls, path: Path) -> Directory:
        found = cls(path)
        for file in sorted(path.glob("*.tf")):
            document = _document(file)
            for entry in document.get("resource", []):
                for type_name, named in entry.items():
                    for name, body in named.items():
                        found.resources.setdefault(type_name, {})[name] = body
                        found.files[f"{type_name}.{name}"] = file
            for entry in document.get("module", []):
                for name, body in entry.items():
                    found.modules[name] = body
                    found.files[f"module.{name}"] = file
            for entry in document.get("output", []):
                found.outputs.update(entry)
            for entry in document.get("locals", []):
                found.locals.update(entry)
        return found

    def resolve(self, expression: str) -> str:
        """`local.x` replaced by x's expression when x is a plain reference (one level)."""
        match = _LOCAL_REF.match(expression)
        if match and isinstance(self.locals.get(match.group(1)), str):
            return _expr(self.locals[match.group(1)])
        return expression


@dataclass(frozen=True)
class Account:
    """A storage account with shared keys off, as infra/ refers to it."""

    module: str  # the module call that creates it
    resource: str  # its address inside that module
    outputs: frozenset[str]  # outputs of that module naming the account or one of its containers
    workspace_storage: bool  # the storage account of an AML workspace in the same module

    @property
    def reference(self) -> str:
        return f"module.{self.module}"

    def scopes(self, scope: str) -> bool:
        match = _MODULE_REF.search(scope)
        return match is not None and match.group(1) == self.module and match.group(2) in self.outputs


@dataclass(frozen=True)
class Use:
    identity: str
    why: str


class Stack:
    """infra/ and the modules it calls."""

    def __init__(self, infra: Path) -> None:
        self.root = Directory.read(infra)
        self.called: dict[str, Directory] = {}
        for name, body in self.root.modules.items():
            source = str(body.get("source", ""))
            if source.startswith("."):
                self.called[name] = Directory.read((infra / source).resolve())

    # --- what each module call is and does ---

    def identities(self, call: str) -> list[str]:
        """The identities a module call's resources run as."""
        found = []
        if "principal_id" in self.called[call].outputs:
            found.append(f"module.{call}.principal_id")
        identities = self.root.modules[call].get("managed_identities")
        if isinstance(identities, dict):
            for reference in identities.get("user_assigned_resource_ids") or []:
                match = _UAI_REF.search(_expr(reference))
                if match:
                    found.append(f"azurerm_user_assigned_identity.{match.group(1)}.principal_id")
        return found

    def referrers(self, module: str) -> dict[str, set[str]]:
        """Module calls (other than `module`) whose inputs refer to `module.<module>.*`: call -> inputs."""
        found: dict[str, set[str]] = {}
        for call, body in self.root.modules.items():
            if call == module:
                continue
            for argument, value in body.items():
                if any(m.group(1) == module for m in _MODULE_REF.finditer(str(value))):
                    found.setdefault(call, set()).add(argument)
        return found

    def datastore_inputs(self, call: str) -> set[str]:
        """Inputs of a module call that feed AML datastores (the `for_each` of a datastore resource)."""
        return set(self.datastore_kinds(call))

    def datastore_kinds(self, call: str) -> dict[str, str]:
        """Inputs of a module call that feed AML datastores -> the datastore kind they create
        (`AzureBlob`, `AzureDataLakeGen2`, ...; azurerm resources by their type name)."""
        kinds = {
            "azurerm_machine_learning_datastore_blobstorage": "AzureBlob",
            "azurerm_machine_learning_datastore_datalake_gen2": "AzureDataLakeGen2",
            "azurerm_machine_learning_datastore_fileshare": "AzureFile",
        }
        found: dict[str, str] = {}
        for type_name, named in self.called[call].resources.items():
            for body in named.values():
                if type_name.startswith("azurerm_machine_learning_datastore_"):
                    kind = kinds.get(type_name, type_name)
                elif type_name == "azapi_resource" and str(body.get("type", "")).startswith(
                    AZAPI_DATASTORE_TYPE
                ):
                    properties = (body.get("body") or {}).get("properties") or {}
                    kind = str(properties.get("datastoreType", "unknown"))
                else:
                    continue
                match = _VAR_REF.match(_expr(body.get("for_each", "")))
                if match:
                    found[match.group(1)] = kind
        return found

    # --- CKV_FS_14 ---

    def blob_datastore_sources(self) -> set[str]:
        """The locals whose entries become AzureBlob datastores of the workspace (the for_each of
        the workspace module's AzureBlob datastore inputs iterates them)."""
        workspace = self.workspace_module()
        if workspace is None:
            return set()
        found: set[str] = set()
        for argument, kind in self.datastore_kinds(workspace).items():
            if kind == "AzureBlob":
                value = _expr(self.root.modules[workspace].get(argument, ""))
                found.update(m.group(1) for m in _ANY_LOCAL_REF.finditer(value))
        return found

    def output_targets(self) -> list[tuple[str, str | None]]:
        """(where, expression) of every place that names the datastores AML outputs go to;
        expression None when the place is missing."""
        targets: list[tuple[str, str | None]] = []
        for call, body in self.root.modules.items():
            aml = body.get("aml")
            if isinstance(aml, dict) and "datastores" in aml:
                targets.append((f"module.{call} input aml.datastores (OutputData)", _expr(aml["datastores"])))
        value: Any = self.root.outputs.get(DEFAULT_DATASTORE_OUTPUT[0], {}).get("value")
        for key in DEFAULT_DATASTORE_OUTPUT[1:]:
            value = value.get(key) if isinstance(value, dict) else None
        where = "output." + ".".join(DEFAULT_DATASTORE_OUTPUT) + " (the deployments' default_datastore)"
        targets.append((where, None if value is None else _expr(value)))
        return targets

    def workspace_module(self) -> str | None:
        for call, directory in self.called.items():
            if "azurerm_machine_learning_workspace" in directory.resources:
                return call
        return None

    # --- CKV_FS_12 ---

    def keyless_accounts(self) -> list[Account]:
        accounts = []
        for call, directory in self.called.items():
            workspace_storage = {
                _expr(body.get("storage_account_id", ""))
                for body in directory.resources.get("azurerm_machine_learning_workspace", {}).values()
            }
            for name, body in directory.resources.get("azurerm_storage_account", {}).items():
                if body.get("shared_access_key_enabled") not in (False, "false"):
                    continue
                address = f"azurerm_storage_account.{name}"
                outputs = frozenset(
                    output
                    for output, spec in directory.outputs.items()
                    if address in str(spec.get("value")) or _CONTAINER in str(spec.get("value"))
                )
                accounts.append(Account(call, address, outputs, f"{address}.id" in workspace_storage))
        return accounts

    def users(self, account: Account) -> list[Use]:
        uses: list[Use] = []
        referrers = self.referrers(account.module)
        for call, inputs in referrers.items():
            uses += [
                Use(identity, f"module {call} takes it as {', '.join(sorted(inputs))}")
                for identity in self.identities(call)
            ]
        for call, inputs in referrers.items():
            fed = inputs & self.datastore_inputs(call)
            if fed:
                for runner in self.referrers(call):
                    uses += [
                        Use(
                            identity,
                            f"it runs in module {call}, whose datastores ({', '.join(sorted(fed))}) read it",
                        )
                        for identity in self.identities(runner)
                    ]
        if account.workspace_storage:
            for runner in self.referrers(account.module):
                uses += [
                    Use(identity, f"it runs in the workspace whose storage this is (module {runner})")
                    for identity in self.identities(runner)
                ]
            uses.append(Use(DEPLOYER, "stackctl deploy uploads code snapshots and build contexts"))
        unique: dict[str, Use] = {}
        for use in uses:
            unique.setdefault(use.identity, use)
        return list(unique.values())

    def role_assignments(self) -> list[tuple[str, str, str]]:
        """(scope, role, principal) of every azurerm_role_assignment in infra/, for_each expanded
        over a local map."""
        found = []
        for body in self.root.resources.get("azurerm_role_assignment", {}).values():
            entries: list[dict[str, Any]] = [{}]
            source = _LOCAL_REF.match(_expr(body.get("for_each", "")))
            if source and isinstance(self.root.locals.get(source.group(1)), dict):
                entries = [e for e in self.root.locals[source.group(1)].values() if isinstance(e, dict)]
            for entry in entries:
                scope, role, principal = (
                    self._each_value(body, entry, attribute)
                    for attribute in ("scope", "role_definition_name", "principal_id")
                )
                found.append((scope, role, principal))
        return found

    def _each_value(self, body: dict[str, Any], entry: dict[str, Any], attribute: str) -> str:
        """An attribute of a for_each resource for one entry of its map (`each.value.x` looked up)."""
        expression = _expr(body.get(attribute, ""))
        if expression.startswith("each.value."):
            expression = _expr(entry.get(expression[len("each.value.") :], ""))
        return self.root.resolve(expression)

    # --- CKV_FS_13 ---

    def job_targets(self) -> list[tuple[str, tuple[str, ...], str]]:
        """(resource reference, sub-resources, why) of every private resource a job reaches."""
        workspace = self.workspace_module()
        if workspace is None:
            return []
        targets: list[tuple[str, tuple[str, ...], str]] = []
        for account in self.keyless_accounts():
            if account.workspace_storage and account.module == workspace:
                output = next(iter(sorted(o for o in account.outputs if "container" not in o)), None)
                if output:
                    targets.append(
                        (
                            f"module.{workspace}.{output}",
                            WORKSPACE_STORAGE_SUBRESOURCES,
                            "the workspace's own storage",
                        )
                    )
        fed = self.datastore_inputs(workspace)
        for argument in fed:
            for match in _MODULE_REF.finditer(str(self.root.modules[workspace].get(argument, ""))):
                owner = self.called.get(match.group(1))
                if owner is not None and "resource_id" in owner.outputs:
                    target = (
                        f"module.{match.group(1)}.resource_id",
                        DATASTORE_SUBRESOURCES,
                        f"the datastores ({argument}) read it",
                    )
                    # One target per resource, however many datastore inputs point at it.
                    if all(existing[0] != target[0] for existing in targets):
                        targets.append(target)
        job_identities = {
            identity.split(".")[1]
            for runner in self.referrers(workspace)
            for identity in self.identities(runner)
            if identity.startswith("azurerm_user_assigned_identity.")
        }
        for call, directory in self.called.items():
            if "azurerm_mssql_server" not in directory.resources:
                continue
            users = self.root.modules[call].get("contained_user_principals")
            if isinstance(users, dict) and any(
                (m := _UAI_REF.search(str(user))) and m.group(1) in job_identities for user in users.values()
            ):
                why = "the jobs' identity has a contained user (the publish step writes to it)"
                targets.append((f"module.{call}.resource_id", SQL_SUBRESOURCES, why))
        return targets

    def outbound_rules(self) -> set[tuple[str, str]]:
        workspace = self.workspace_module()
        outbound = self.root.modules.get(workspace or "", {}).get("outbound_rules") or {}
        rules = outbound.get("private_endpoints") or {}
        return {
            (_expr(rule.get("resource_id", "")), str(rule.get("subresource_name")))
            for rule in rules.values()
            if isinstance(rule, dict)
        }


def _keyless_account_findings(
    root: Path, stack: Stack, assignments: list[tuple[str, str, str]]
) -> list[Finding]:
    """CKV_FS_12: every identity that uses a key-less account holds a Storage Blob Data role on it."""
    where_rbac = relative(root / "infra" / "main.rbac.tf", root)
    findings: list[Finding] = []
    for account in stack.keyless_accounts():
        for use in stack.users(account):
            if not any(
                principal == use.identity and BLOB_DATA_ROLE.match(role) and account.scopes(scope)
                for scope, role, principal in assignments
            ):
                findings.append(
                    Finding(
                        CHECK,
                        where_rbac,
                        f"CKV_FS_12 failed on {account.reference}.{account.resource}: {use.identity} uses "
                        f"this account with shared keys off ({use.why}) but holds no Storage Blob Data role "
                        "on it; Azure answers 403 (AuthorizationPermissionMismatch) to its data-plane calls",
                        f"add a role assignment in {where_rbac}: Storage Blob Data Reader (reads) or "
                        f"Contributor (writes) for {use.identity}, scoped to {account.reference}.<account "
                        "or container output>",
                    )
                )
    return findings


def _outbound_rule_findings(
    root: Path, stack: Stack, targets: list[tuple[str, tuple[str, ...], str]]
) -> list[Finding]:
    """CKV_FS_13: every private resource a job reaches has a managed-network outbound rule."""
    rules = stack.outbound_rules()
    infra = root / "infra"
    where_main = relative(stack.root.files.get(f"module.{stack.workspace_module()}", infra / "main.tf"), root)
    return [
        Finding(
            CHECK,
            where_main,
            f"CKV_FS_13 failed on {reference} ({subresource}): AML jobs reach it ({why}) but the "
            "workspace's managed network has no private-endpoint outbound rule to it; the job "
            "cannot connect (no route out of the managed network)",
            f'add `{{ resource_id = {reference}, subresource_name = "{subresource}" }}` to '
            "outbound_rules.private_endpoints of the workspace module call",
        )
        for reference, subresources, why in targets
        for subresource in subresources
        if (reference, subresource) not in rules
    ]


def _output_datastore_findings(
    root: Path, stack: Stack, output_targets: list[tuple[str, str | None]]
) -> list[Finding]:
    """CKV_FS_14: every AML output target is a local of AzureBlob datastores."""
    infra = root / "infra"
    blob_sources = stack.blob_datastore_sources()
    findings: list[Finding] = []
    for where, expression in output_targets:
        match = _LOCAL_REF.match(expression or "")
        if match and match.group(1) in blob_sources:
            continue
        named = "is missing" if expression is None else f"is {expression}"
        findings.append(
            Finding(
                CHECK,
                relative(infra / ("outputs.tf" if where.startswith("output.") else "main.tf"), root),
                f"CKV_FS_14 failed on {where}: it {named}, not a local whose entries the workspace "
                "registers as AzureBlob datastores; batch endpoints write outputs only to Blob Storage "
                "datastores, so the job fails on an ADLS Gen2 one",
                "name a local map of the AzureBlob datastores (local.output_datastore_names, registered by "
                "the workspace module's blob_datastores input) there",
            )
        )
    return findings


def check_wiring(root: Path) -> CheckReport:
    """CKV_FS_12, CKV_FS_13 and CKV_FS_14 over infra/; one finding per missing role, outbound rule
    or Blob output target."""
    report = CheckReport(CHECK)
    stack = Stack(root / "infra")
    assignments = stack.role_assignments()
    targets = stack.job_targets()
    output_targets = stack.output_targets()
    report.findings.extend(_keyless_account_findings(root, stack, assignments))
    report.findings.extend(_outbound_rule_findings(root, stack, targets))
    report.findings.extend(_output_datastore_findings(root, stack, output_targets))
    report.figures.update(
        rules=list(RULES),
        output_targets=len(output_targets),
        keyless_accounts=len(stack.keyless_accounts()),
        role_assignments=len(assignments),
        job_targets=len(targets),
    )
    report.notes.append(f"{len(RULES)} stack-wide rules ran: {', '.join(RULES)}")
    return report
