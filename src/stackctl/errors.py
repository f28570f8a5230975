"""The one error type users see: what failed, where, and what to do about it."""

from __future__ import annotations


class StackctlError(Exception):
    """A failure the user can act on. `main` prints it as one block and exits non-zero.

    Raise it with the three parts a reader needs, for example::

        raise StackctlError(
            "no saved plan for prod",
            where="build/prod/tfplan",
            fix="run `make plan ENV=prod` and have it reviewed first",
        )
    """

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None, exit_code: int = 2):
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
