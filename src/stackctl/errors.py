"""The one error type users see (what failed, where, and what to do about it) and the exit statuses."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Every exit status stackctl returns; the model CLI (`demand-forecast`) uses the same 0, 1 and 2."""

    OK = 0
    FAILED = 1  # blocking findings (audit, validate) or an unexpected failure
    BAD_INPUT = 2  # unusable input: nothing was changed or written
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)


class StackctlError(Exception):
    """A failure the user can act on. `main` prints it as one block and exits non-zero.

    Raise it with the three parts a reader needs, for example::

        raise StackctlError(
            "no saved plan for prod",
            where="build/prod/tfplan",
            fix="run `make plan ENV=prod` and have it reviewed first",
        )
    """

    def __init__(
        self,
        what: str,
        *,
        where: str | None = None,
        fix: str | None = None,
        exit_code: int = ExitStatus.BAD_INPUT,
    ):
        super().__init__(what)
        self.what = what
        self.where = where
        self.fix = fix
        self.exit_code = exit_code

    def render(self) -> str:
        lines = [f"error: {self.what}"]
        if self.where:
            lines.append(f"  where: {self.where}")
        if self.fix:
            lines.append(f"  fix:   {self.fix}")
        return "\n".join(lines)
