"""Result text and JSON for the Argo CD commands (one place, so text and JSON say the same)."""

from __future__ import annotations

from typing import Any

from gitops_release.argo.rollouts import ActionResult
from gitops_release.argo.wait import Outcome, format_duration


def outcome_text(app: str, target: str, outcome: Outcome) -> str:
    images = ", ".join(outcome.expect.images) or "-"
    revision = (outcome.expect.revision or outcome.app.revision)[:12] or "-"
    return f"{app} is {target}: revision {revision}, image {images} ({format_duration(outcome.waited)})"


def outcome_payload(app: str, target: str, outcome: Outcome) -> dict[str, Any]:
    ro = outcome.rollout
    return {
        "app": app,
        "target": target,
        "reached": True,
        "revision": outcome.expect.revision or outcome.app.revision,
        "images": list(outcome.expect.images),
        "sync": outcome.app.sync_status,
        "health": outcome.app.health,
        "rollout": None
        if ro is None
        else {"name": ro.name, "phase": ro.phase, "message": ro.message, "images": list(ro.images)},
        "waited_seconds": round(outcome.waited, 1),
        "http_requests": outcome.requests,
    }


def action_payload(app: str, result: ActionResult, outcome: Outcome | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "app": app,
        "rollout": result.rollout.removeprefix("rollout "),
        "action": result.action.value,
        "changed": result.changed,
        "message": result.message,
        "phase": result.after.phase,
    }
    if outcome is not None:
        data["released"] = outcome_payload(app, "released", outcome)
    return data
