"""Exit codes and the one exception family every user-facing failure belongs to.

The ExitCode enum doubles as documentation: `--help` and the README print it, and a CI job
branches on it (DESIGN.md section 3).
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INTERNAL = 3
    REMOTE = 4
    NOT_LANDED = 5
    TIMEOUT = 6
    INTERRUPTED = 130


EXIT_CODE_MEANING: dict[ExitCode, str] = {
    ExitCode.OK: 'done (also nothing to change: JSON says "changed": false)',
    ExitCode.FAILED: "it ran and the answer is no: release failed, smoke check failed, lint findings",
    ExitCode.USAGE: "usage or input error, nothing done: bad flag, invalid tag/name/path, unsafe YAML, dirty tree",
    ExitCode.INTERNAL: "internal error (a bug): traceback only with --debug",
    ExitCode.REMOTE: "a remote refused or could not be reached: auth, not found, protected branch, TLS, API error",
    ExitCode.NOT_LANDED: "the change could not land: conflict, --expect-current mismatch, push still rejected",
    ExitCode.TIMEOUT: "timed out waiting for a target state (the message says what was still missing)",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C, SIGTERM)",
}

EXIT_CODE_HELP = "\n".join(f"  {code.value:>3}  {EXIT_CODE_MEANING[code]}" for code in ExitCode)


class ReleaseError(Exception):
    """Base of every expected failure: one line for the user, plus the next step."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None, exit_code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class Failed(ReleaseError):
    """The operation ran and the answer is no (exit 1)."""

    exit_code = ExitCode.FAILED


class UsageError(ReleaseError):
    """Bad input; nothing was done (exit 2)."""

    exit_code = ExitCode.USAGE


class RemoteError(ReleaseError):
    """A remote refused or could not be reached (exit 4)."""

    exit_code = ExitCode.REMOTE


class NotLanded(ReleaseError):
    """The change could not land (exit 5)."""

    exit_code = ExitCode.NOT_LANDED


class TimedOut(ReleaseError):
    """A wait ran out of time (exit 6)."""

    exit_code = ExitCode.TIMEOUT
