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
from pathlib import Path
from typing import Protocol, TypeVar

from gitops_release import journal
from gitops_release.config import Settings
from gitops_release.errors import NotLanded, ReleaseError, RemoteError, UsageError
from gitops_release.git.repo import Workspace, _repo_git, current_branch, origin_url
from gitops_release.output import redact, short_sha

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


class Edit(Protocol):
    """What the edit callback returns: the files it wrote (relative to the root) and whether
    anything changed at all."""

    @property
    def changed(self) -> bool: ...

    @property
    def paths(self) -> Sequence[str]: ...


E = TypeVar("E", bound=Edit)


@dataclass(frozen=True)
class MergeRequest:
    """Push to ``source`` instead and ask GitLab to open a merge request into the branch."""

    source: str
    title: str
    remove_source_branch: bool = True

    def options(self, target: str) -> list[str]:
        options = [
            "merge_request.create",
            f"merge_request.target={target}",
            f"merge_request.title={self.title}",
        ]
        if self.remove_source_branch:
            options.append("merge_request.remove_source_branch")
        return options


@dataclass(frozen=True)
class Landed:
    commit: str | None
    pushed: bool
    attempts: int
    branch: str
    """Where the commit went: the target branch, or the merge request's source branch."""


def land(
    ws: Workspace,
    *,
    apply: Callable[[int], E],
    message: Callable[[E], str],
    push: bool = True,
    merge_request: MergeRequest | None = None,
    policy: RetryPolicy | None = None,
    progress: Callable[[str], None] = lambda _line: None,
) -> tuple[E, Landed]:
    """Edit, commit and push, re-anchoring on a lost race (DESIGN.md section 3, "Git").

    ``apply(attempt)`` edits the files in ``ws`` on the current tip (it is run again, from
    scratch, after each re-anchor) and may raise to stop (e.g. an ``--expect-current``
    mismatch). On any failure the commit we made is dropped again, so a local checkout is
    left as it was found.
    """
    policy = policy or RetryPolicy()
    start = policy.clock()
    target = merge_request.source if merge_request else ws.branch
    refspec = f"HEAD:refs/heads/{target}"
    options = merge_request.options(ws.branch) if merge_request else []
    attempt = 0
    while True:
        attempt += 1
        edit = apply(attempt)
        if not edit.changed:
            return edit, Landed(None, False, attempt, target)
        sha = ws.commit(list(edit.paths), message(edit))
        if not push:
            return edit, Landed(sha, False, attempt, target)
        progress(f"committed {short_sha(sha)}; pushing to {target} on {ws.display_url}")
        try:
            outcome = push_refspec(ws.run, ws.remote, refspec, options)
            if outcome.ok or (outcome.refused is PushRefused.LOST and _landed_anyway(ws, sha)):
                journal.note("git", f"pushed commit {short_sha(sha)} to {target}")
                return edit, Landed(sha, True, attempt, target)
            remaining = policy.budget - (policy.clock() - start)
            if (
                outcome.refused is not PushRefused.RETRYABLE
                or merge_request is not None
                or attempt >= policy.attempts
                or remaining <= 0
            ):
                raise_for(outcome, target=f"{target} on {ws.display_url}", attempts=attempt)
            progress(
                f"push to {target} rejected ({outcome.reason}): the branch moved on; "
                f"re-applying the edit on the new tip (attempt {attempt + 1}/{policy.attempts})"
            )
            policy.sleep(policy.delay(attempt, remaining))
            tip = ws.fetch()
            if not ws.temporary and not ws.is_ancestor(ws.base, tip):
                raise NotLanded(
                    f"{ws.remote}/{ws.branch} was rewritten (force-pushed) since {short_sha(ws.base)}",
                    hint="look at the branch history, then run again",
                )
        except BaseException:
            _drop_own_commit(ws, sha)
            raise
        _drop_own_commit(ws, sha, onto=tip)
        ws.base = tip


def _landed_anyway(ws: Workspace, sha: str) -> bool:
    """After the remote hung up mid-push: did our commit land? (A fetch tells; if the remote is
    still gone, we cannot know and say so.)"""
    try:
        return ws.fetch() == sha
    except ReleaseError:
        return False


def _drop_own_commit(ws: Workspace, sha: str, onto: str | None = None) -> None:
    """Remove the one commit we made (HEAD == ``sha``), moving to ``onto`` (default: its base)."""
    if ws.head() == sha:
        ws.reset_hard(onto or ws.base)


def push_branch(repo_dir: Path, *, settings: Settings | None = None) -> None:
    """Push the current branch to ``origin`` under the same name (never forced).

    Rejections are classified like ``bump-image`` does: a remote that moved -> NotLanded (5,
    pull and retry), a hook or protected branch -> RemoteError (4).
    """
    from gitops_release.git.push import PushRefused, push_refspec, raise_for

    repo_dir = Path(repo_dir)
    branch = current_branch(repo_dir)
    if branch is None:
        raise UsageError(f"{repo_dir}: detached HEAD", hint="check out a branch before pushing")
    if origin_url(repo_dir) is None:
        raise UsageError(
            f"{repo_dir}: no 'origin' remote to push to", hint="git remote add origin URL"
        )
    outcome = push_refspec(_repo_git(repo_dir, settings), "origin", f"HEAD:refs/heads/{branch}")
    if outcome.ok:
        return
    if outcome.refused is PushRefused.RETRYABLE:
        raise NotLanded(
            f"push of {branch} to origin rejected: {outcome.reason}",
            hint="the remote moved on: git pull --ff-only, then push again",
        )
    raise_for(outcome, target=f"{branch} on {origin_url(repo_dir)}", attempts=1)
