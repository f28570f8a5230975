"""The one error type users see (what failed, where, and what to do about it) and the exit statuses."""

from __future__ import annotations

# One exit-status table for stackctl and the model CLI: the model package owns it (it must not import
# stackctl), stackctl re-exports it. The table and each status's one cause: demand_forecast.errors.
from demand_forecast.errors import ExitStatus

__all__ = ["ExitStatus", "StackctlError"]


class StackctlError(Exception):
    """A failure the user can act on. `main` prints it as one block and exits with `exit_code`:
    an environment or setup fault (3) unless the raiser knows better (a local step's refused data: 2).

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
        exit_code: int = ExitStatus.SETUP_FAULT,
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
