"""Errors the CLI turns into exit codes: 2 for unusable input, 1 for anything unexpected."""

from __future__ import annotations


class UsageError(Exception):
    """Input the command cannot use (bad data, bad config, missing file): exit code 2."""


class DataContractError(UsageError):
    """Data breaks the input contract; the message names file, row, column and reason."""

    def __init__(
        self,
        file: str,
        reason: str,
        *,
        row: int | None = None,
        column: str | None = None,
        detail: str = "",
        fix: str = "",
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.reason = reason
        where = file
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        message = f"{where}: {reason}"
        if detail:
            message += f" ({detail})"
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message)


class RegistryError(Exception):
    """The MLflow tracking server or model registry failed or refused a call: exit code 1.

    Only "no model registered yet" is an answer (no champion); anything else the registry says
    (unreachable, unauthorised, an unsupported route) is this error, naming the store and the call.
    """


class DeviceError(Exception):
    """The GPU the step runs on is there but torch cannot use it (driver too old for the build): exit 1.

    Training on the CPU instead would hide the fault for as long as the cluster runs, at GPU prices.
    """
