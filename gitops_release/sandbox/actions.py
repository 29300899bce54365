"""Argo CD's built-in Rollout resource actions (``resource_customizations/argoproj.io/Rollout/
actions``, copied in ``specs/argocd-rollout-actions``), as the Lua scripts patch the object."""

from __future__ import annotations

from typing import Any

from gitops_release.sandbox.rollout import Rollout
from gitops_release.sandbox.wire import UNKNOWN, GrpcError


def list_actions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """discovery.lua, sorted by name as the API server returns them; ``disabled`` omitted when false."""
    if obj.get("kind") != "Rollout":
        return []
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if status.get("pauseConditions") is not None:
        paused = len(status["pauseConditions"]) > 0
    else:
        paused = bool(spec.get("paused"))
    fully_promoted = status.get("currentPodHash") == status.get("stableRS")
    canary = (spec.get("strategy") or {}).get("canary")
    disabled = {
        "restart": False,
        "resume": not paused,
        "abort": fully_promoted or bool(status.get("abort")),
        "retry": fully_promoted or not status.get("abort"),
        "pause": fully_promoted or bool(status.get("abort")) or bool(spec.get("paused")),
        "promote-full": fully_promoted,
        "skip-current-step": canary is None or canary.get("steps") is None,
    }
    actions = []
    for name in sorted(disabled):
        action: dict[str, Any] = {"name": name}
        if name == "restart":
            action["displayName"] = "Restart Pods"
        if disabled[name]:
            action["disabled"] = True
        actions.append(action)
    return actions


def run_action(rollout: Rollout, action: str) -> None:
    """What each action.lua patches (the server does not check ``disabled``)."""
    if action == "resume":
        rollout.status.pop("pauseConditions", None)
        if rollout.spec.get("paused"):
            rollout.spec["paused"] = False
            rollout.generation += 1
    elif action == "promote-full":
        rollout.status["promoteFull"] = True
    elif action == "abort":
        rollout.abort()
    elif action == "retry":
        rollout.retry()
    elif action == "restart":
        rollout.restart()
    elif action == "pause":
        rollout.spec["paused"] = True
        rollout.generation += 1
    else:  # lua.VM GetResourceAction: no built-in script by that name (gRPC Unknown, HTTP 500)
        raise GrpcError(
            UNKNOWN, "error getting Lua resource action: built-in script does not exist"
        )
