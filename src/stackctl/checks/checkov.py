"""checkov: running it (from .venv-tools/), reading its results, and validate's checkov check.

Used by `stackctl validate` (Terraform directories: `check_checkov`, check 4) and `stackctl audit`
(a plan JSON file: `run_checkov(..., framework="terraform_plan")`).
checkov runs as a separate program because its `bc-python-hcl2` dependency would replace
python-hcl2's `hcl2` module in our environment; it never reaches for the network
(`BC_SKIP_MAPPING=TRUE`, `--skip-download`).

    report = run_checkov(Path("modules/sql"), output_dir=Path("build/checkov/sql"))
    report.failed          # tuple of CheckResult
    report.sarif_path      # build/checkov/sql/results_sarif.sarif (when output_dir is given)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stackctl.checks.findings import CheckReport, Finding, relative
from stackctl.checks.hclmodel import block_headers, terraform_reads_syntax
from stackctl.checks.tfvars import tfvars_files
from stackctl.errors import StackctlError
from stackctl.paths import repo_root
from stackctl.tools import checkov_env, checkov_executable

Outcome = Literal["passed", "failed", "skipped"]
Framework = Literal["terraform", "terraform_plan"]


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    check_name: str
    outcome: Outcome
    resource: str
    file_path: str
    line_range: tuple[int, int] | None
    suppress_comment: str | None = None
    guideline: str | None = None
    severity: str | None = None

    @property
    def location(self) -> str:
        if self.line_range:
            return f"{self.file_path}:{self.line_range[0]}-{self.line_range[1]}"
        return self.file_path


@dataclass(frozen=True)
class CheckovReport:
    target: Path
    framework: Framework
    results: tuple[CheckResult, ...]
    parsing_errors: tuple[str, ...] = ()
    checkov_version: str | None = None
    output_dir: Path | None = field(default=None, compare=False)

    def _with(self, outcome: Outcome) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.outcome == outcome)

    @property
    def passed(self) -> tuple[CheckResult, ...]:
        return self._with("passed")

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return self._with("failed")

    @property
    def skipped(self) -> tuple[CheckResult, ...]:
        return self._with("skipped")

    @property
    def ok(self) -> bool:
        return not self.failed and not self.parsing_errors

    @property
    def sarif_path(self) -> Path | None:
        return self.output_dir / "results_sarif.sarif" if self.output_dir else None

    @property
    def junit_path(self) -> Path | None:
        return self.output_dir / "results_junitxml.xml" if self.output_dir else None

    def summary(self) -> str:
        return (
            f"{self.target}: {len(self.passed)} passed, {len(self.failed)} failed, "
            f"{len(self.skipped)} skipped, {len(self.parsing_errors)} parsing errors"
        )


def default_policies_dir() -> Path | None:
    """Our organisation rules as custom checkov policies, when they exist."""
    policies = repo_root() / "infra" / "policies"
    return policies if policies.is_dir() else None


@dataclass(frozen=True)
class CheckovScan:
    """One checkov scan: a directory (`framework="terraform"`) or a plan JSON file
    (`"terraform_plan"`); `output_dir` also gets SARIF and JUnit XML; `env` adds variables for
    this scan only."""

    target: Path
    framework: Framework = "terraform"
    external_checks_dir: Path | None = None
    output_dir: Path | None = None
    extra_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)

    def argv(self, out: Path) -> list[str]:
        """checkov's command-line arguments for this scan, writing its results to `out`."""
        argv = [
            "-f" if self.target.is_file() else "-d",
            str(self.target),
            "--framework",
            self.framework,
            # Terraform also loads `*.tf.json`; checkov reads them with its terraform_json framework.
            *(
                ["terraform_json"]
                if self.framework == "terraform" and _has_json_configuration(self.target)
                else []
            ),
            "--skip-download",
            "--compact",
            "--output-file-path",
            str(out),
        ]
        # SARIF and JUnit are for people and CI to read: written only where someone can find them.
        for fmt in ("json", "sarif", "junitxml") if self.output_dir else ("json",):
            argv += ["-o", fmt]
        if self.external_checks_dir is not None:
            argv += ["--external-checks-dir", str(self.external_checks_dir)]
        return argv + list(self.extra_args)


def run_checkov(
    target: Path,
    *,
    framework: Framework = "terraform",
    external_checks_dir: Path | Literal["default"] | None = "default",
    output_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> CheckovReport:
    """Scan a directory (`framework="terraform"`) or a plan JSON file (`"terraform_plan"`).

    With `output_dir`, checkov also writes SARIF and JUnit XML there (for CI annotations).
    `env` adds variables for this run only. `external_checks_dir="default"` means infra/policies.
    Raises StackctlError when checkov cannot run or produces no readable result.
    """
    policies = default_policies_dir() if external_checks_dir == "default" else external_checks_dir
    scan = CheckovScan(target, framework, policies, output_dir, tuple(extra_args), dict(env or {}))
    (report,) = run_checkov_scans([scan])
    return report


def run_checkov_scans(scans: Sequence[CheckovScan], *, jobs: int = 1) -> list[CheckovReport]:
    """Every scan in ONE checkov process (checkov_batch.py: checkov imported once, a clean forked
    child per scan), reports in the order given. checkov's start-up is 2-4 s of a 4-8 s scan on
    this machine, so four scans as four commands paid it four times. Up to `jobs` scans run at
    once, started in the order given (put the longest first).

    Raises StackctlError naming the scan when a target is missing or a scan left no result file.
    """
    for scan in scans:
        if not scan.target.exists():
            raise StackctlError(f"nothing to scan: {scan.target} does not exist", fix="check the path")
    with tempfile.TemporaryDirectory(prefix="checkov-") as scratch:
        spec, outs = [], []
        for number, scan in enumerate(scans):
            out = scan.output_dir or Path(scratch) / f"scan-{number}"
            out.mkdir(parents=True, exist_ok=True)
            (out / "results_json.json").unlink(missing_ok=True)
            outs.append(out)
            # CKV_FS_6 reads a module's locals from the files of the scanned tree (paths are relative to it).
            env = {"FORECAST_STACK_SCAN_TARGET": str(scan.target.resolve()), **scan.env}
            spec.append({"argv": scan.argv(out), "env": env})
        spec_path = Path(scratch) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        command = [str(checkov_python()), str(Path(__file__).with_name("checkov_batch.py")), str(spec_path)]
        command += ["--jobs", str(jobs)] if jobs > 1 else []
        # checkov reads its parallelism when it is imported, once for every scan: serial inside each
        # scan, so `jobs` scans hold `jobs` cores (three side-by-side scans, each forking a worker
        # per CPU, took 21 s instead of 13 s).
        env = {**checkov_env(), PARALLELIZATION_VARIABLE: os.environ.get(PARALLELIZATION_VARIABLE, "none")}
        proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        reports = []
        for scan, out, one in zip(scans, outs, spec, strict=True):
            json_path = out / "results_json.json"
            # checkov exits 1 when a check fails; only a missing result file means it did not run.
            if not json_path.exists():
                raise StackctlError(
                    f"checkov failed on {scan.target} (exit {proc.returncode})",
                    where="checkov " + " ".join(one["argv"]),
                    fix=f"run the command above to see why; stderr ends with: {proc.stderr.strip()[-400:]}",
                )
            raw = json.loads(json_path.read_text())
            reports.append(
                parse_checkov_json(
                    raw, target=scan.target, framework=scan.framework, output_dir=scan.output_dir
                )
            )
    return reports


def checkov_python() -> Path:
    """The Python that runs checkov: the interpreter its console script names on its first line."""
    executable = checkov_executable()
    with executable.open("rb") as handle:
        first = handle.readline().decode("utf-8", "replace").strip()
    interpreter = Path(first[2:].split()[0]) if first.startswith("#!") and len(first) > 2 else None
    if interpreter is None or "python" not in interpreter.name or not interpreter.exists():
        raise StackctlError(
            f"cannot tell which Python runs checkov: {executable} does not start with a Python #! line",
            where=str(executable),
            fix="run `make setup` (it creates .venv-tools/ with checkov pinned in requirements/tools.txt)",
        )
    return interpreter


def parse_checkov_json(
    raw: Any, *, target: Path, framework: Framework, output_dir: Path | None = None
) -> CheckovReport:
    """checkov's JSON is a dict for one framework, a list for several, and a bare summary when
    there was nothing to scan; all three become one report."""
    reports = raw if isinstance(raw, list) else [raw]
    results: list[CheckResult] = []
    errors: list[str] = []
    version: str | None = None
    for report in reports:
        summary = report.get("summary", report)
        version = version or summary.get("checkov_version")
        body = report.get("results")
        if not body:
            continue
        outcomes: tuple[tuple[str, Outcome], ...] = (
            ("passed_checks", "passed"),
            ("failed_checks", "failed"),
            ("skipped_checks", "skipped"),
        )
        for key, outcome in outcomes:
            results.extend(_check(item, outcome) for item in body.get(key, []))
        errors.extend(str(e) for e in body.get("parsing_errors", []))
    return CheckovReport(
        target=target,
        framework=framework,
        results=tuple(results),
        parsing_errors=tuple(errors),
        checkov_version=version,
        output_dir=output_dir,
    )


def _check(item: dict[str, Any], outcome: Outcome) -> CheckResult:
    line_range = item.get("file_line_range")
    return CheckResult(
        check_id=str(item.get("check_id")),
        check_name=str(item.get("check_name", "")),
        outcome=outcome,
        resource=str(item.get("resource", "")),
        file_path=str(item.get("file_path", "")),
        line_range=(int(line_range[0]), int(line_range[1])) if line_range else None,
        suppress_comment=(item.get("check_result") or {}).get("suppress_comment"),
        guideline=item.get("guideline"),
        severity=item.get("severity"),
    )


# Check 4 of `stackctl validate`: checkov with our policies (infra/policies) on every module and on
# both roots.
#
# Four scans, in one checkov process: `modules/` (each module on its own, with the organisation's tag
# set from infra/policies/module_scan.tfvars, so the modules' defaults are judged as prod), and
# `envs/dev`, `envs/prod` with their terraform.tfvars (checkov follows ../../infra and the modules),
# and `envs/bootstrap` with its example.tfvars.
# Findings: every failed check, every parsing error, and every skip without a written reason.
# SARIF and JUnit XML land in build/checkov/<target>/.

CHECK = "checkov"
# What checkov writes when a skip comment gives no reason.
_NO_REASON = {"", "no comment provided"}
# The ids of infra/policies (CKV_FS_<n>, CKV2_FS_<n>); `stackctl validate` lists those that ran.
_ORGANISATION_RULE = re.compile(r"^CKV2?_FS_\d+$")
MIN_REASON_CHARS = 20
PARALLELIZATION_VARIABLE = "CHECKOV_PARALLELIZATION_TYPE"


# The modules' runnable examples (modules/<name>/examples/) stay out of every scan (no root calls
# them): checkov would judge each module's resources through the example's call, with the example's
# values and under module.<name> addresses, instead of on its own with module_scan.tfvars' prod values.
# `make validate` checks the examples with Terraform's loader and the reference checks.
MODULE_EXAMPLES = r"/examples/"


@dataclass(frozen=True)
class ScanTarget:
    name: str
    directory: Path
    var_file: Path | None
    skip_paths: tuple[str, ...] = (MODULE_EXAMPLES,)  # checkov --skip-path regexes


# The roots' scans follow ../../infra into every module, so they take longest: started first.
LONGEST_SCANS = ("prod", "dev")


def scan_jobs() -> int:
    """How many scans of `stackctl validate` run at once: 2 where there are 2 cores or more.
    More would not help on the 2-core machines this is sized for, and each holds ~200 MiB."""
    return max(1, min(2, os.cpu_count() or 1))


def scan_targets(root: Path) -> list[ScanTarget]:
    return [
        ScanTarget("modules", root / "modules", root / "infra" / "policies" / "module_scan.tfvars"),
        ScanTarget("dev", root / "envs" / "dev", root / "envs" / "dev" / "terraform.tfvars"),
        ScanTarget("prod", root / "envs" / "prod", root / "envs" / "prod" / "terraform.tfvars"),
        ScanTarget("bootstrap", root / "envs" / "bootstrap", root / "envs" / "bootstrap" / "example.tfvars"),
    ]


def _has_json_configuration(target: Path) -> bool:
    return target.is_dir() and any(p for p in target.rglob("*.tf.json") if ".terraform" not in p.parts)


def _var_files(target: ScanTarget) -> list[Path]:
    """The variable files of a scan: a root's are every file Terraform loads there, in its order."""
    if (
        target.directory.parent.name == "envs"
        and target.var_file
        and target.var_file.name == "terraform.tfvars"
    ):
        return tfvars_files(target.directory)
    return [target.var_file] if target.var_file and target.var_file.is_file() else []


def _scan(target: ScanTarget, root: Path) -> CheckovScan:
    extra = tuple(arg for file in _var_files(target) for arg in ("--var-file", str(file)))
    extra += tuple(arg for pattern in target.skip_paths for arg in ("--skip-path", pattern))
    return CheckovScan(
        target.directory,
        external_checks_dir=root / "infra" / "policies",
        output_dir=root / "build" / "checkov" / target.name,
        extra_args=extra,
    )


def _result_findings(target: ScanTarget, scan: CheckovReport, root: Path) -> list[Finding]:
    """A finding per failed check and per skip without a written reason."""
    findings = []
    for result in scan.failed:
        findings.append(
            Finding(
                CHECK,
                f"{target.name}: {_source(result.file_path, target.directory, root)}"
                + (f":{result.line_range[0]}" if result.line_range else ""),
                f"{result.check_id} failed on {result.resource}: {result.check_name}",
                "fix the resource, or if the rule does not apply add "
                f"`#checkov:skip={result.check_id}:<why>` inside it",
            )
        )
    for result in scan.skipped:
        reason = (result.suppress_comment or "").strip()
        if reason.lower() in _NO_REASON or len(reason) < MIN_REASON_CHARS:
            findings.append(
                Finding(
                    CHECK,
                    f"{target.name}: {_source(result.file_path, target.directory, root)}",
                    f"{result.check_id} is skipped on {result.resource} without a justification",
                    f"write why next to it: `#checkov:skip={result.check_id}:<reason>`",
                )
            )
    return findings


def _parsing_errors(target: ScanTarget, scan: CheckovReport, root: Path, report: CheckReport) -> None:
    """A finding per file checkov cannot parse, or a note where only checkov's parser fails."""
    for error in scan.parsing_errors:
        unreadable = _parser_limitation(error, target.directory)
        if unreadable is None:
            report.findings.append(
                Finding(CHECK, target.name, f"checkov could not parse: {error}", "fix the syntax")
            )
        else:
            # checkov's HCL parser (bc-python-hcl2) rejects some syntax Terraform accepts, e.g. a
            # template directive comparing strings (`%{ if var.x != "prod" }`): a limitation of
            # the scanner, not an error in the code. checkov scans the other files as usual.
            report.notes.append(
                f"{target.name}: {relative(unreadable, root)}: not checked by checkov: its HCL parser "
                "cannot read this file, which Terraform reads; left unchecked: "
                + (", ".join(block_headers(unreadable.read_text(encoding="utf-8"))) or "no blocks")
            )


def check_checkov(
    root: Path,
    *,
    targets: list[ScanTarget] | None = None,
    on_done: Callable[[str], None] | None = None,
) -> CheckReport:
    """checkov over every scan target in one checkov process; per target its organisation rules, counts and
    report files as figures, and findings for failed checks, unjustified skips and unparsable files."""
    report = CheckReport(CHECK)
    targets = targets or scan_targets(root)
    # One checkov process for every target (run_checkov_scans), each target its own scan with its
    # own variable files, so each finding stays with the root (or module scan) it came from.
    # Two scans at a time, the longest first: measured on 2 cores, the four scans took 11.4 s one
    # after another (prod 5.1, dev 3.4, modules 1.5, bootstrap 1.4) and about 6.5 s two at a time.
    in_run_order = sorted(targets, key=lambda target: target.name not in LONGEST_SCANS)
    scans = run_checkov_scans([_scan(target, root) for target in in_run_order], jobs=scan_jobs())
    results = {target.name: scan for target, scan in zip(in_run_order, scans, strict=True)}
    if on_done:
        for target in targets:
            on_done(target.name)
    for target in targets:
        scan = results[target.name]
        rules = sorted({r.check_id for r in scan.results if _ORGANISATION_RULE.match(r.check_id)})
        report.notes.append(f"{target.name}: {len(rules)} organisation rules ran: {', '.join(rules)}")
        report.figures[target.name] = {
            "rules": rules,
            "passed": len(scan.passed),
            "failed": len(scan.failed),
            "skipped": len(scan.skipped),
            "sarif": relative(scan.sarif_path, root) if scan.sarif_path else None,
            "junit": relative(scan.junit_path, root) if scan.junit_path else None,
        }
        report.findings.extend(_result_findings(target, scan, root))
        _parsing_errors(target, scan, root, report)
        report.figures[target.name]["unchecked_files"] = sum(
            1 for error in scan.parsing_errors if _parser_limitation(error, target.directory)
        )
    return report


def _parser_limitation(error: str, scanned: Path) -> Path | None:
    """The file of a checkov parsing error when Terraform's own parser reads it, else None."""
    path = Path(error.strip())
    if not path.is_absolute():
        path = scanned / error.strip().lstrip("/")
    if path.suffix != ".tf" or not path.is_file():
        return None
    return path if terraform_reads_syntax(path) else None


def _source(file_path: str, scanned: Path, root: Path) -> str:
    """checkov reports paths relative to the scanned directory, with a leading slash."""
    return relative((scanned / file_path.lstrip("/")).resolve(), root)
