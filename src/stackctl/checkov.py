"""Run checkov (from .venv-tools/) and read its results into typed findings.

Used by `stackctl validate` (Terraform directories) and `stackctl audit` (a plan JSON file).
checkov runs as a separate program because its `bc-python-hcl2` dependency would replace
python-hcl2's `hcl2` module in our environment; it never reaches for the network
(`BC_SKIP_MAPPING=TRUE`, `--skip-download`).

    report = run_checkov(Path("modules/sql"), output_dir=Path("build/checkov/sql"))
    report.failed          # tuple of CheckResult
    report.sarif_path      # build/checkov/sql/results_sarif.sarif (when output_dir is given)
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
    `env` adds variables for this run only (e.g. CHECKOV_PARALLELIZATION_TYPE for side-by-side scans).
    Raises StackctlError when checkov cannot run or produces no readable result.
    """
    if not target.exists():
        raise StackctlError(f"nothing to scan: {target} does not exist", fix="check the path")
    policies = default_policies_dir() if external_checks_dir == "default" else external_checks_dir
    with tempfile.TemporaryDirectory(prefix="checkov-") as scratch:
        out = output_dir or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(checkov_executable()),
            "-f" if target.is_file() else "-d",
            str(target),
            "--framework",
            framework,
            "--skip-download",
            "--compact",
            "--output-file-path",
            str(out),
        ]
        # SARIF and JUnit are for people and CI to read: written only where someone can find them.
        for fmt in ("json", "sarif", "junitxml") if output_dir else ("json",):
            cmd += ["-o", fmt]
        if policies is not None:
            cmd += ["--external-checks-dir", str(policies)]
        cmd += list(extra_args)
        run_env = checkov_env()
        run_env.update(env or {})
        proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, check=False)
        json_path = out / "results_json.json"
        # checkov exits 1 when a check fails; only a missing result file means it did not run.
        if not json_path.exists():
            raise StackctlError(
                f"checkov failed on {target} (exit {proc.returncode})",
                where=" ".join(cmd),
                fix=f"run the command above to see why; stderr ends with: {proc.stderr.strip()[-400:]}",
            )
        raw = json.loads(json_path.read_text())
    return parse_checkov_json(raw, target=target, framework=framework, output_dir=output_dir)


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
