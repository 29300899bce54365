"""Exit codes and the one exception family every user-facing failure belongs to.

The ExitCode enum doubles as documentation: `--help` and the README print it, and a CI job
branches on it (DESIGN.md section 3).

Callers branch on the type of an error, never on its message text: a case worth telling apart
gets its own subclass (:class:`ExpectCurrentMismatch` here; ``AppNotFound``, ``NoLiveObject`` and
the HTTP statuses in :mod:`gitops_release.argo.apierrors`).

Why the adapters re-raise ``from None`` (STYLE.md says ``from err``): ``--debug`` prints the
traceback as Python formats it, without the redaction filter, and the adapter's original exception
carries what must never be printed: GitPython's ``GitCommandError`` holds the git command line and
its environment, a requests exception the URL with its query. The one-line message of our error
names the object and the server's words (redacted); ``from None`` keeps the raw cause out of the
chained traceback (tests/reliability/rel_secrets.py runs the failure paths with ``--debug``).
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
    details: dict[str, object] | None = None
    """The command's partial result, for ``-o json`` (e.g. what a failed deploy left)."""

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


class AppPathMissing(UsageError):
    """``bump-image --app PATH``: no such file or directory in the repository (exit 2). Typed, so
    the caller can ask Argo CD whether PATH is an Application's name instead."""


class RemoteError(ReleaseError):
    """A remote refused or could not be reached (exit 4)."""

    exit_code = ExitCode.REMOTE


class NotLanded(ReleaseError):
    """The change could not land (exit 5)."""

    exit_code = ExitCode.NOT_LANDED


class TimedOut(ReleaseError):
    """A wait ran out of time (exit 6)."""

    exit_code = ExitCode.TIMEOUT


class ExpectCurrentMismatch(NotLanded):
    """``--expect-current`` named another image than the remote tip holds (exit 5): someone
    released in between. ``found`` says where and what the tip holds."""

    def __init__(self, expected: str, found: str):
        super().__init__(
            f"--expect-current {expected}, but {found}",
            hint="someone else released in between; check, then run again",
        )
        self.expected = expected
        self.found = found
