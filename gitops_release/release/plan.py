"""``--dry-run`` of the commands that change something: what they would do, and nothing done.

A dry run goes through the command's own code path (load the app, read the Rollout, every check
that would refuse) and stops at the first side effect. From there on each step is noted here
instead of done: the Git diff the commit would carry (computed by ``bump-image``'s own dry run)
and the Argo CD calls, in order, with their bodies. Nothing is written, pushed, refreshed,
synced, acted on or deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gitops_release.argo.model import ResourceRef
from gitops_release.argo.types import Action, Target

# What each Rollout action is called on Argo CD's resource-actions endpoint (argo/rollouts.py).
_ARGOCD_ACTION = {
    Action.promote: "resume",
    Action.promote_full: "promote-full",
    Action.abort: "abort",
    Action.retry: "retry",
    Action.restart: "restart",
}


@dataclass(frozen=True)
class Step:
    """One thing the command would do: an API call (``call``), a push or a wait, and why."""

    what: str
    why: str = ""
    call: str = ""

    def payload(self) -> dict[str, str]:
        data = {"what": self.what}
        if self.call:
            data["call"] = self.call
        if self.why:
            data["why"] = self.why
        return data


@dataclass
class Plan:
    """The result of a ``--dry-run``: the steps, the Git diff, and whether anything would change."""

    command: str
    app: str
    steps: list[Step] = field(default_factory=list)
    diff: str = ""
    changed: bool = True
    notes: list[str] = field(default_factory=list)

    # -- steps -------------------------------------------------------------------------------
    def add(self, what: str, *, why: str = "", call: str = "") -> None:
        self.steps.append(Step(what, why, call))

    def nothing(self, why: str) -> None:
        """Nothing to do: the real command would say ``why`` and change nothing."""
        self.changed = False
        self.notes.append(why)

    def git(self, bump: Any, *, why: str) -> bool:
        """The commit the command would push (a ``BumpResult`` of a dry run); False when Git
        already holds that image (the real command pushes nothing then)."""
        if not bump.changed:
            self.notes.append(f"Git already holds {bump.new}: no commit")
            return False
        self.diff += bump.diff
        files = ", ".join(sorted({c.file for c in bump.changes})) or "the app's files"
        self.add(
            f"commit {files} ({bump.old or '?'} -> {bump.new}) and push to {bump.branch} of {bump.repo}",
            why=why,
        )
        return True

    def take(
        self, name: str, *, auto_sync: bool, revision: str | None, prune: bool = False
    ) -> None:
        """What ``ReleaseApp.take`` (and ``sync``) would call: refresh, then sync unless auto-sync."""
        self.add(
            f"refresh application {name}",
            call=f"GET /api/v1/applications/{name}?refresh=normal",
            why="Argo CD reads the new commit now, not at its next poll",
        )
        if auto_sync:
            self.notes.append(f"{name} has auto-sync on: Argo CD syncs the commit itself")
            return
        body: dict[str, Any] = {}
        if revision:
            body["revision"] = revision
        if prune:
            body["prune"] = True
        self.add(
            f"sync application {name}",
            call=f"POST /api/v1/applications/{name}/sync {json.dumps(body)}",
            why="auto-sync is off",
        )

    def action(
        self, name: str, ref: ResourceRef | None, action: Action, *, via: str = "argocd"
    ) -> None:
        rollout = f"rollout {ref.namespace}/{ref.name}" if ref else f"the rollout of {name}"
        if via == "dashboard" and ref is not None:
            verb = "promote" if action in (Action.promote, Action.promote_full) else action.value
            call = f"PUT /rollouts/{ref.namespace}/{ref.name}/{verb}"
            if verb == "promote":
                call += f" {json.dumps({'full': action is Action.promote_full})}"
        else:
            call = (
                f"POST /api/v1/applications/{name}/resource/actions "
                f"(kind=Rollout, resourceName={ref.name if ref else name}) "
                f"{json.dumps(_ARGOCD_ACTION[action])}"
            )
        self.add(f"{action.value} {rollout}", call=call)

    def wait(self, name: str, target: Target | str, image: str | None = None) -> None:
        on = f" on {image}" if image else ""
        self.add(f"wait until {name} is {target}{on}", why="watching the app, no change")

    # -- the result --------------------------------------------------------------------------
    def text(self) -> str:
        head = f"dry run of {self.command}: nothing was changed."
        if not self.steps:
            return "\n".join([head, *self.notes]) if self.notes else head
        lines = [head + " It would:"]
        for i, step in enumerate(self.steps, 1):
            lines.append(f"  {i}. {step.what}")
            if step.call:
                lines.append(f"     {step.call}")
        lines += [f"note: {n}" for n in self.notes]
        if self.diff:
            lines.append(self.diff.rstrip("\n"))
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        return {
            "dry_run": True,
            "command": self.command,
            "app": self.app,
            "changed": self.changed and bool(self.steps),
            "steps": [s.payload() for s in self.steps],
            "notes": self.notes,
            "diff": self.diff,
        }
