"""Error types shared by every layer.

They live in the lowest layer so adapters, commands and the CLI can all raise
them; the CLI maps ``exit_code`` to the process exit status.
"""

from __future__ import annotations


class OpsError(Exception):
    """An expected failure: one line for the user, no traceback."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(OpsError):
    """Bad usage or bad input; the message names the file, line or field."""

    exit_code = 2


class PartialFailure(OpsError):
    """A bulk run where some items failed and the rest were processed."""

    exit_code = 3


class AuthError(OpsError):
    exit_code = 4


class BackendUnreachable(OpsError):
    exit_code = 5


class LockHeld(OpsError):
    exit_code = 75


class StoreError(OpsError):
    """The store cannot be opened or used (corrupt, locked, wrong schema)."""

    exit_code = 1
