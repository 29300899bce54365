"""Landing a commit: push, classify the answer, and re-anchor on a rejection.

The edit is addressed by meaning, so when the remote moved on we never rebase text: we drop the
one commit we made, fetch, move to the new remote tip, run the same edit again (a callback) and
push again, up to 10 attempts within 60 s with jittered backoff. Never a force push.

Git reports a rejected push as a ref status, not an error, in several wordings (GitHub, GitLab,
plain git): ``git push --porcelain`` gives one ``!`` line per rejected ref, which we classify.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gitops_release.errors import NotLanded, RemoteError
from gitops_release.output import redact

# The remote moved between our fetch and our push: re-anchor and try again.
RETRYABLE = (
    "non-fast-forward",
    "fetch first",
    "stale info",
    "failed to update ref",
    "cannot lock ref",
    "failed to lock",
    "incorrect old value provided",  # GitLab (Gitaly)
    "but expected",
    "reference already exists",
    "tip of your current branch is behind",
    "remote contains work that you do not",
)
# Phrases of a push that never reached the point of updating refs.
UNREACHABLE = (
    "could not read from remote repository",
    "unable to access",
    "authentication failed",
    "could not read username",
    "terminal prompts disabled",
    "repository not found",
    "not found",
    "connection refused",
    "could not resolve host",
    "couldn't connect",
    "failed to connect",
    "ssl certificate problem",
    "the requested url returned error",
    "permission denied",
    "does not support push options",
)

MERGE_REQUEST_HINT = "use --merge-request to push to a new branch and open a merge request"


class PushRefused(enum.Enum):
    RETRYABLE = "retryable"  # the remote moved on: re-anchor
    FATAL = "fatal"  # a hook or protected branch said no: retrying will not help (exit 4)
    UNREACHABLE = "unreachable"  # auth, network, not found (exit 4)
    LOST = "lost"  # the remote went away mid-push: outcome unknown (exit 5)


@dataclass(frozen=True)
class PushOutcome:
    ok: bool
    refused: PushRefused | None = None
    reason: str = ""
    up_to_date: bool = False


class Runner(Protocol):
    def status(self, *args: str) -> tuple[int, str, str]: ...


def classify(status: int, stdout: str, stderr: str) -> PushOutcome:
    """Read ``git push --porcelain`` output into a :class:`PushOutcome`."""
    refs = [line.split("\t") for line in stdout.splitlines() if "\t" in line]
    rejected = [r for r in refs if r[0] == "!"]
    if status == 0 and refs and not rejected:
        return PushOutcome(ok=True, up_to_date=all(r[0] == "=" for r in refs))
    remote_lines = "; ".join(
        ln.removeprefix("remote:").strip()
        for ln in stderr.splitlines()
        if ln.startswith("remote:") and ln.removeprefix("remote:").strip()
    )
    if rejected:
        summary = rejected[0][2] if len(rejected[0]) > 2 else "rejected"
        reason = summary.strip()
        if "(" in reason and reason.endswith(")"):
            reason = reason[reason.index("(") + 1 : -1]
        detail = redact(f"{reason}: {remote_lines}" if remote_lines else reason)
        low_reason, low_all = reason.lower(), f"{reason} {stderr}".lower()
        if any(p in low_reason for p in RETRYABLE):
            return PushOutcome(ok=False, refused=PushRefused.RETRYABLE, reason=detail)
        if "hook declined" not in low_reason and any(p in low_all for p in RETRYABLE):
            return PushOutcome(ok=False, refused=PushRefused.RETRYABLE, reason=detail)
        return PushOutcome(ok=False, refused=PushRefused.FATAL, reason=detail)
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = redact("; ".join(lines[-3:]) or f"git push exited with {status}")
    if any(p in stderr.lower() for p in UNREACHABLE):
        return PushOutcome(ok=False, refused=PushRefused.UNREACHABLE, reason=text)
    return PushOutcome(ok=False, refused=PushRefused.LOST, reason=text)


def push_refspec(
    run: Runner, remote: str, refspec: str, options: Sequence[str] = ()
) -> PushOutcome:
    """``git push --porcelain [-o OPT]... REMOTE REFSPEC``, classified. Never forced."""
    args = ["push", "--porcelain"]
    for option in options:
        args += ["-o", option]
    status, out, err = run.status(*args, remote, refspec)
    return classify(status, out, err)


def raise_for(outcome: PushOutcome, *, target: str, attempts: int) -> None:
    """Turn a failed push into the error a user sees."""
    reason = outcome.reason
    if outcome.refused is PushRefused.RETRYABLE:
        raise NotLanded(
            f"push to {target} still rejected after {attempts} attempt(s): {reason}",
            hint="the branch is busy; run again, or use --merge-request",
        )
    if outcome.refused is PushRefused.FATAL:
        raise RemoteError(f"push to {target} refused: {reason}", hint=MERGE_REQUEST_HINT)
    if outcome.refused is PushRefused.UNREACHABLE:
        raise RemoteError(
            f"push to {target} failed: {reason}",
            hint="check the URL, network and GITOPS_RELEASE_GIT_TOKEN (write access)",
        )
    raise NotLanded(
        f"push to {target} did not complete: {reason}",
        hint="the remote went away mid-push; check the branch, then run again",
    )


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 10
    budget: float = 60.0
    base_delay: float = 0.05
    max_delay: float = 3.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, remaining: float) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**attempt)], within the time left."""
        cap = min(self.max_delay, self.base_delay * (2**attempt))
        return max(0.0, min(self.rng.uniform(cap / 4, cap), remaining))
