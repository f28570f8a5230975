"""Audit time for a 500-resource plan (goal: under 10 s including checkov).

Generates the plan with scripts/generate_audit_fixture.py, then measures, each as the median of
several runs:
  core        parse + analyse + render Markdown, HTML and SARIF, in-process, no checkov
  checkov     checkov alone on the plan file, with infra/policies (as `stackctl audit` runs it)
  end to end  `stackctl audit --plan ... --out ...` as a new process: what `make audit` costs

    python benchmarks/bench_audit.py            # 500 resources
    python benchmarks/bench_audit.py --quick    # 100 resources, each measure once, no checkov alone

--quick is a fast look at a fifth of the goal's plan size: its end-to-end figure is not judged
against the goal, and checkov alone is not run (the end-to-end audit runs it; the core is
measured without checkov's findings).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stackctl.audit.allow_list import load_allow_list
from stackctl.audit.analysis import build_report
from stackctl.audit.plan import load_plan
from stackctl.audit.provenance import collect_provenance
from stackctl.audit.render import render_html, render_markdown
from stackctl.audit.runner import checkov_on_plan
from stackctl.audit.sarif import to_sarif
from stackctl.checks.checkov import CheckovReport
from stackctl.paths import repo_root

GOAL_SECONDS = 10.0
GOAL_RESOURCES = 500
ROOT = repo_root()


def load_generator() -> Callable[..., dict[str, object]]:
    spec = importlib.util.spec_from_file_location(
        "generate_audit_fixture", ROOT / "scripts" / "generate_audit_fixture.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    generate: Callable[..., dict[str, object]] = module.generate
    return generate


@dataclass(frozen=True)
class Plan:
    resources: int
    core_runs: int
    checkov_alone_runs: int  # 0: the core report is built without checkov's findings
    end_to_end_runs: int


def plan(quick: bool, resources: int | None = None) -> Plan:
    if quick:
        return Plan(resources or 100, core_runs=1, checkov_alone_runs=0, end_to_end_runs=1)
    return Plan(resources or 500, core_runs=5, checkov_alone_runs=3, end_to_end_runs=3)


def median_seconds(action: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return (statistics.median(times) if times else float("nan")), times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100 resources and fewer repetitions")
    parser.add_argument("--resources", type=int, help="plan size (default: 500; 100 with --quick)")
    args = parser.parse_args(argv)
    what = plan(args.quick, args.resources)
    size = what.resources
    load_at_start = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="bench-audit-") as scratch:
        work = Path(scratch)
        plan_path = work / f"plan-{size}.json"
        plan_path.write_text(json.dumps(load_generator()(size), indent=1), encoding="utf-8")
        print(
            f"plan: {size} resources, {plan_path.stat().st_size / 1e6:.1f} MB "
            "(scripts/generate_audit_fixture.py)"
        )

        allow_list = load_allow_list(ROOT / "infra" / "audit-allow-list.yaml", required=False)
        checkov_result: list[CheckovReport] = []

        def core() -> None:
            plan = load_plan(plan_path)
            report = build_report(
                plan,
                provenance=collect_provenance(
                    plan, env="dev", plan_path=plan_path, root=ROOT, allow_list="bench", policies="bench"
                ),
                allow_list=allow_list,
                checkov=checkov_result[0] if checkov_result else None,
                parity=None,
                today=dt.date.today(),
            )
            render_markdown(report)
            render_html(report)
            json.dumps(to_sarif(report))

        checkov_median, checkov_times = median_seconds(
            lambda: checkov_result.insert(0, checkov_on_plan(plan_path, ROOT / "envs" / "dev")),
            what.checkov_alone_runs,
        )
        core_median, _ = median_seconds(core, what.core_runs)

        command = [
            str(Path(sys.executable).with_name("stackctl")),
            "audit",
            "--env",
            "dev",
            "--plan",
            str(plan_path),
            "--out",
            str(work / "out"),
        ]
        statuses: list[int] = []
        cpu_seconds: list[float] = []

        def end_to_end() -> None:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            statuses.append(subprocess.run(command, capture_output=True, check=False).returncode)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_seconds.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)

        e2e_median, e2e_times = median_seconds(end_to_end, what.end_to_end_runs)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if any(status not in (0, 1) for status in statuses):
            print(f"stackctl audit failed (exit {statuses}): {' '.join(command)}", file=sys.stderr)
            return 1
        report_kb = sum(p.stat().st_size for p in (work / "out").iterdir()) / 1024

    if checkov_result:
        checks = checkov_result[0]
        print(f"checkov: {len(checks.passed)} passed, {len(checks.failed)} failed checks on the plan")
    print(f"{'measure':<52} {'median':>9}  runs")
    core_label = "core: parse + analyse + render md/html/sarif" + ("" if checkov_result else " (no checkov)")
    print(f"{core_label:<52} {core_median * 1000:>7.0f} ms  {what.core_runs}")
    if checkov_times:
        print(
            f"{'checkov on the plan (with infra/policies)':<52} {checkov_median:>7.2f} s   "
            + ", ".join(f"{t:.2f}" for t in checkov_times)
        )
    else:
        print(f"{'checkov on the plan alone':<52} not run with --quick (end to end includes it)")
    print(
        f"{'stackctl audit end to end (new process, checkov)':<52} {e2e_median:>7.2f} s   "
        + ", ".join(f"{t:.2f}" for t in e2e_times)
    )
    print(
        f"{'  CPU time of that process and its checkov':<52} {statistics.median(cpu_seconds):>7.2f} s   "
        + ", ".join(f"{t:.2f}" for t in cpu_seconds)
    )
    print(f"{'peak RSS of a child process (checkov or stackctl)':<52} {peak_mb:>7.0f} MB")
    print(f"{'reports written (md + html + sarif)':<52} {report_kb:>7.0f} KB")
    load_before, load_after = load_at_start, os.getloadavg()[0]
    print(
        f"machine: {os.cpu_count()} CPUs, 1-minute load average "
        f"{load_before:.1f} at start, {load_after:.1f} at end"
    )
    if size >= GOAL_RESOURCES:
        verdict = "met" if e2e_median < GOAL_SECONDS else "NOT met"
        print(f"goal: end to end under {GOAL_SECONDS:.0f} s for {size} resources: {verdict}")
    else:
        print(
            f"goal: end to end under {GOAL_SECONDS:.0f} s for {GOAL_RESOURCES} resources: not judged "
            f"at this size ({size} resources)"
        )
    if load_after > (os.cpu_count() or 1):
        # Wall time on a busy machine measures the neighbours too; CPU time does not.
        print("note: the machine was busy (load above its CPU count); compare CPU time, or rerun when idle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
