"""What ``deploy --set`` did: every app's outcome, the set's commits, its record and dotenv."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gitops_release.output import short_sha
from gitops_release.release.deploy import DeployResult


@dataclass
class SetDeployResult:
    apps: list[str]
    waves: list[list[str]]
    outcome: str = "running"
    """preview-ready, released, failed, reverted, timed-out, recovery-failed, refused."""
    changed: bool = False
    release_commit: str = ""
    revert_commit: str = ""
    failed_wave: int | None = None
    merge_request_branch: str = ""
    reason: str = ""
    results: dict[str, DeployResult] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {
            "set": self.apps,
            "waves": self.waves,
            "outcome": self.outcome,
            "changed": self.changed,
            "release_commit": self.release_commit,
            "revert_commit": self.revert_commit,
            "failed_wave": self.failed_wave,
            "merge_request_branch": self.merge_request_branch,
            "reason": self.reason,
            "timings": self.timings,
            "apps": [self.results[a].payload() for a in self.apps],
        }

    def dotenv(self) -> dict[str, object]:
        values: dict[str, object] = {
            "RELEASE_COMMIT": self.release_commit,
            "REVERT_COMMIT": self.revert_commit,
            "RELEASE_OUTCOME": self.outcome,
        }
        for app in self.apps:
            for key, value in self.results[app].dotenv().items():
                if key != "RELEASE_COMMIT":
                    values[f"{dotenv_prefix(app)}_{key}"] = value
            values[f"{dotenv_prefix(app)}_OUTCOME"] = self.results[app].outcome
        return values

    def text(self) -> str:
        lines = [f"{self.results[a].app}: {self.results[a].outcome}" for a in self.apps]
        head = (
            f"release set of {len(self.apps)} app(s) in {len(self.waves)} wave(s): {self.outcome}"
        )
        if self.release_commit:
            head += f" (commit {short_sha(self.release_commit)})"
        return "\n".join([head, *lines])


def dotenv_prefix(app: str) -> str:
    """``my-api`` -> ``MY_API``: a dotenv key prefix (letters, digits, underscores)."""
    return re.sub(r"[^A-Z0-9]+", "_", app.upper()).strip("_") or "APP"
