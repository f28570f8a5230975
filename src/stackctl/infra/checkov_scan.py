"""Check 4: checkov with our policies (infra/policies) on every module and on both roots.

Three scans, run side by side: `modules/` (each module on its own, with the organisation's tag
set from infra/policies/module_scan.tfvars, so the modules' defaults are judged as prod), and
`envs/dev`, `envs/prod` with their terraform.tfvars (checkov follows ../../infra and the modules).
Findings: every failed check, every parsing error, and every skip without a written reason.
SARIF and JUnit XML land in build/checkov/<target>/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stackctl.checkov import CheckovReport, run_checkov
from stackctl.infra.findings import CheckReport, Finding, relative

CHECK = "checkov"
# What checkov writes when a skip comment gives no reason.
_NO_REASON = {"", "no comment provided"}
MIN_REASON_CHARS = 20
PARALLELIZATION_VARIABLE = "CHECKOV_PARALLELIZATION_TYPE"
# The ids of infra/policies (CKV_FS_<n>, CKV2_FS_<n>); `stackctl validate` lists those that ran.
_ORGANISATION_RULE = re.compile(r"^CKV2?_FS_\d+$")


@dataclass(frozen=True)
class ScanTarget:
    name: str
    directory: Path
    var_file: Path | None


def scan_targets(root: Path) -> list[ScanTarget]:
    return [
        ScanTarget("modules", root / "modules", root / "infra" / "policies" / "module_scan.tfvars"),
        ScanTarget("dev", root / "envs" / "dev", root / "envs" / "dev" / "terraform.tfvars"),
        ScanTarget("prod", root / "envs" / "prod", root / "envs" / "prod" / "terraform.tfvars"),
    ]


def _scan(target: ScanTarget, root: Path) -> CheckovReport:
    extra = ["--var-file", str(target.var_file)] if target.var_file and target.var_file.is_file() else []
    # Each checkov forks a worker per CPU; three side-by-side scans on a small machine then spend
    # their time thrashing (here: 21 s instead of 13 s). The scans are our parallelism, so checkov
    # runs serially inside each, unless the caller chose otherwise.
    parallelism = os.environ.get(PARALLELIZATION_VARIABLE, "none")
    return run_checkov(
        target.directory,
        external_checks_dir=root / "infra" / "policies",
        output_dir=root / "build" / "checkov" / target.name,
        extra_args=extra,
        env={PARALLELIZATION_VARIABLE: parallelism},
    )


def check_checkov(
    root: Path,
    *,
    targets: list[ScanTarget] | None = None,
    on_done: Callable[[str], None] | None = None,
) -> CheckReport:
    report = CheckReport(CHECK)
    targets = targets or scan_targets(root)
    results: dict[str, CheckovReport] = {}
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        futures = {target.name: pool.submit(_scan, target, root) for target in targets}
        for name, future in futures.items():
            results[name] = future.result()
            if on_done:
                on_done(name)
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
        for result in scan.failed:
            report.findings.append(
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
                report.findings.append(
                    Finding(
                        CHECK,
                        f"{target.name}: {_source(result.file_path, target.directory, root)}",
                        f"{result.check_id} is skipped on {result.resource} without a justification",
                        f"write why next to it: `#checkov:skip={result.check_id}:<reason>`",
                    )
                )
        report.findings.extend(
            Finding(CHECK, target.name, f"checkov could not parse: {error}", "fix the syntax")
            for error in scan.parsing_errors
        )
    return report


def _source(file_path: str, scanned: Path, root: Path) -> str:
    """checkov reports paths relative to the scanned directory, with a leading slash."""
    return relative((scanned / file_path.lstrip("/")).resolve(), root)
