"""Rollout status rules: the phase as ``rolloututil.CalculateRolloutPhase`` computes it, and
conditions with their transition times (``conditions.SetRolloutCondition``)."""

from __future__ import annotations

from typing import Any


def calculate_phase(spec: dict[str, Any], status: dict[str, Any]) -> tuple[str, str]:
    """(phase, message), in the controller's order (argo-api.md section 3.8)."""
    replicas = int(spec.get("replicas", 1))
    degraded = [
        c
        for c in status.get("conditions", [])
        if c["reason"] in ("RolloutAborted", "ProgressDeadlineExceeded") and c["status"] == "False"
    ]
    if degraded:
        return "Degraded", f"{degraded[0]['reason']}: {degraded[0]['message']}"
    if spec.get("paused"):
        return "Paused", "manually paused"
    if status.get("pauseConditions"):
        return "Paused", str(status["pauseConditions"][0]["reason"])
    if spec.get("restartAt") and status.get("restartedAt") != spec["restartAt"]:
        return "Progressing", "rollout is restarting"
    if status.get("updatedReplicas", 0) < replicas:
        return "Progressing", "more replicas need to be updated"
    if status.get("availableReplicas", 0) < status.get("updatedReplicas", 0):
        return "Progressing", "updated replicas are still becoming available"
    blue_green = status.get("blueGreen") or {}
    if blue_green.get("activeSelector") != status.get("currentPodHash"):
        return "Progressing", "active service cutover pending"
    if status.get("stableRS") != status.get("currentPodHash"):
        return "Progressing", "waiting for analysis to complete"
    return "Healthy", ""


def set_condition(
    status: dict[str, Any], kind: str, state: str, reason: str, message: str, stamp: str
) -> None:
    """Add or update a condition; lastTransitionTime moves only when ``status`` flips."""
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    for condition in conditions:
        if condition["type"] != kind:
            continue
        if (condition["status"], condition["reason"], condition["message"]) != (
            state,
            reason,
            message,
        ):
            if condition["status"] != state:
                condition["lastTransitionTime"] = stamp
            condition.update(status=state, reason=reason, message=message, lastUpdateTime=stamp)
        return
    conditions.append(
        {
            "type": kind,
            "status": state,
            "reason": reason,
            "message": message,
            "lastTransitionTime": stamp,
            "lastUpdateTime": stamp,
        }
    )
