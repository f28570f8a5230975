"""The exit-status table of the model CLI and of stackctl (one table, `stackctl.errors` re-exports it),
and the errors the CLI turns into those statuses.

status  name               one cause; what the caller does
0       OK                 done
1       BLOCKING_FINDINGS  stackctl audit/validate ran and found what blocks a release; read the report
2       DATA_REFUSED       the input data breaks its contract (DataContractError), nothing was written;
                           fix the data (the local stack keeps a copy of the raw data in quarantine)
3       SETUP_FAULT        environment or setup (UsageError, RegistryError, DeviceError, StackctlError):
                           configuration, arguments, a missing step output or model, an outdated
                           reporting schema, the registry, the GPU, a missing plan; fix what the
                           message names, the data is not at fault
70      INTERNAL_ERROR     anything unexpected, a bug (sysexits.h EX_SOFTWARE); read the traceback
130     INTERRUPTED        Ctrl-C (128 + SIGINT); nothing further was changed

Each status has one cause, so a caller acts on the status alone: the local executor quarantines raw
data only on DATA_REFUSED (`stackctl.local.executor`). Status 1 is not a crash: both entry points catch
every exception and report a crash as INTERNAL_ERROR, never as Python's default 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum


class ExitStatus(IntEnum):
    """Every exit status of `demand-forecast` and `stackctl`; see the module docstring's table."""

    OK = 0
    BLOCKING_FINDINGS = 1
    DATA_REFUSED = 2
    SETUP_FAULT = 3
    INTERNAL_ERROR = 70
    INTERRUPTED = 130


class UsageError(Exception):
    """An environment or setup fault the user can fix (configuration, arguments, a missing step output
    or model, an outdated reporting schema): exit status 3 (`ExitStatus.SETUP_FAULT`), never blamed on
    the data."""


class FailedPartitionsError(UsageError):
    """Too many partitions (regions) failed in training: exit status 3. Raised by `train` before it
    writes a model (`training.train`, above `distributed.max_failed_share`) and by `register` before it
    registers one (`routing.check_failed_share`, which also refuses any failure without a champion).
    The message names each failed region with its error, the share and the limit; `failed` (region ->
    error) and `total` (partitions) are what telemetry reports (`training_failed_partitions`)."""

    def __init__(self, message: str, failed: Mapping[str, str], total: int) -> None:
        super().__init__(message)
        self.failed = dict(failed)
        self.total = total


class DataContractError(Exception):
    """Data breaks the input contract: exit status 2 (`ExitStatus.DATA_REFUSED`); the message names
    file, row, column and reason."""

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
    """The MLflow tracking server or model registry failed or refused a call: exit status 3 (setup).

    Only "no model registered yet" is an answer (no champion); anything else the registry says
    (unreachable, unauthorised, an unsupported route) is this error, naming the store and the call.
    """


class DeviceError(Exception):
    """The GPU the step runs on is there but torch cannot use it (driver too old for the build): exit status 3
    (setup).

    Training on the CPU instead would hide the fault for as long as the cluster runs, at GPU prices.
    """
