"""Push outcome classification: every rejection wording we know, and the retry policy."""

from __future__ import annotations

import random

import pytest

from gitops_release.errors import NotLanded, RemoteError
from gitops_release.git.push import PushRefused, RetryPolicy, classify, raise_for

TO = "To https://gitlab.example.com/team/gitops.git\n"


def porcelain(flag: str, summary: str) -> str:
    return f"{TO}{flag}\tHEAD:refs/heads/main\t{summary}\nDone\n"


@pytest.mark.parametrize(
    ("summary", "stderr"),
    [
        (
            "[rejected] (fetch first)",
            "hint: Updates were rejected because the remote contains work",
        ),
        ("[rejected] (non-fast-forward)", "hint: tip of your current branch is behind"),
        ("[rejected] (stale info)", ""),
        ("[remote rejected] (failed to update ref)", ""),
        (
            "[remote rejected] (cannot lock ref 'refs/heads/main': is at 1a2b but expected 3c4d)",
            "",
        ),
        ("[remote rejected] (incorrect old value provided)", "remote: error: 9:Gitaly"),
        (
            "[remote rejected] (failed)",
            "remote: error: cannot lock ref 'refs/heads/main': reference already exists",
        ),
    ],
)
def test_lost_races_are_retryable(summary: str, stderr: str) -> None:
    outcome = classify(1, porcelain("!", summary), stderr)
    assert outcome.refused is PushRefused.RETRYABLE, outcome


@pytest.mark.parametrize(
    ("summary", "stderr", "shown"),
    [
        (
            "[remote rejected] (pre-receive hook declined)",
            "remote: GitLab: You are not allowed to push code to protected branches on this project.",
            "protected branches",
        ),
        (
            "[remote rejected] (protected branch hook declined)",
            "remote: error: GH006: Protected branch update failed for refs/heads/main.",
            "GH006",
        ),
        (
            "[remote rejected] (hook declined)",
            "remote: cannot lock ref is not it: hook says no",
            "hook",
        ),
        ("[remote rejected] (deny updating a hidden ref)", "", "hidden ref"),
    ],
)
def test_hooks_and_protection_are_fatal(summary: str, stderr: str, shown: str) -> None:
    outcome = classify(1, porcelain("!", summary), stderr)
    assert outcome.refused is PushRefused.FATAL
    assert shown in outcome.reason
    with pytest.raises(RemoteError, match="--merge-request"):
        raise_for(outcome, target="main", attempts=1)


def test_success_and_up_to_date() -> None:
    assert classify(0, porcelain(" ", "1a2b3c4..5d6e7f8"), "").ok
    same = classify(0, porcelain("=", "[up to date]"), "")
    assert same.ok and same.up_to_date
    assert classify(0, porcelain("*", "[new branch]"), "").ok


def test_unreachable_and_lost() -> None:
    auth = classify(128, "", "fatal: Authentication failed for 'https://gitlab.example.com/x.git/'")
    assert auth.refused is PushRefused.UNREACHABLE
    with pytest.raises(RemoteError):
        raise_for(auth, target="main", attempts=1)
    refused = classify(
        128, "", "fatal: unable to access 'http://127.0.0.1:1/x/': Connection refused"
    )
    assert refused.refused is PushRefused.UNREACHABLE
    gone = classify(
        1,
        "",
        "error: RPC failed; curl 18 transfer closed\nfatal: the remote end hung up unexpectedly",
    )
    assert gone.refused is PushRefused.LOST
    with pytest.raises(NotLanded, match="mid-push"):
        raise_for(gone, target="main", attempts=1)


def test_still_rejected_is_not_landed() -> None:
    outcome = classify(1, porcelain("!", "[rejected] (fetch first)"), "")
    with pytest.raises(NotLanded, match="after 10 attempt"):
        raise_for(outcome, target="main", attempts=10)


def test_backoff_is_jittered_bounded_and_within_the_time_left() -> None:
    policy = RetryPolicy(rng=random.Random(1))
    delays = [policy.delay(attempt, remaining=60) for attempt in range(1, 11)]
    assert all(0 <= d <= policy.max_delay for d in delays)
    assert len(set(delays)) == len(delays)
    assert policy.delay(9, remaining=0.01) <= 0.01
