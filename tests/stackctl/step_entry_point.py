"""A tiny step entry point for test_step_runners.py: `main(argv) -> int`, runnable as a script."""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    action, *rest = argv
    if action == "echo":
        print(rest[0], os.environ.get("STEP_VALUE", "-"), os.getcwd())
        print("to stderr", file=sys.stderr)
        return 0
    if action == "exit":
        print("bad input", file=sys.stderr)
        return int(rest[0])
    if action == "sys-exit":
        sys.exit(int(rest[0]))
    raise RuntimeError("the step broke")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
