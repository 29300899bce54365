"""Rollout status rules: the phase as ``rolloututil.CalculateRolloutPhase`` computes it, and the
condition helpers of ``utils/conditions`` (set, progress, healthy, completed, timed out).

Statuses are the JSON dicts the sandbox serves; ``old`` is the status the pass started from
(upstream's ``c.rollout.Status``), ``new`` the one it is computing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from gitops_release.sandbox.clock import parse_rfc3339

# Reasons and messages, worded as utils/conditions/conditions.go words them.
AVAILABLE_REASON = "AvailableReason"
AVAILABLE_MESSAGE = "Rollout has minimum availability"
NOT_AVAILABLE_MESSAGE = "Rollout does not have minimum availability"
REPLICASET_UPDATED = "ReplicaSetUpdated"
REPLICASET_PROGRESSING = 'ReplicaSet "{}" is progressing.'
NEW_REPLICASET = "NewReplicaSetCreated"
NEW_REPLICASET_MESSAGE = 'Created new replica set "{}"'
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
REPLICASET_COMPLETED = 'ReplicaSet "{}" has successfully progressed.'
REPLICASET_NOT_AVAILABLE = "ReplicaSetNotAvailable"
COMPLETED = "RolloutCompleted"
HEALTHY = "RolloutHealthy"
HEALTHY_MESSAGE = "Rollout is healthy"
NOT_HEALTHY_MESSAGE = "Rollout is not healthy"
ABORTED = "RolloutAborted"
INVALID_SPEC = "InvalidSpec"
ABORTED_MESSAGE = "Rollout aborted update to revision {}"
RETRY = "RolloutRetry"
RETRY_MESSAGE = "Retrying Rollout after abort"
PAUSED = "RolloutPaused"
PAUSED_MESSAGE = "Rollout is paused"
RESUMED = "RolloutResumed"
RESUMED_MESSAGE = "Rollout is resumed"
TIMED_OUT = "ProgressDeadlineExceeded"
TIMED_OUT_MESSAGE = 'ReplicaSet "{}" has timed out progressing.'


def calculate_phase(spec: dict[str, Any], status: dict[str, Any]) -> tuple[str, str]:
    """(phase, message), in the controller's order (argo-api.md section 3.8)."""
    for condition in status.get("conditions", []):
        if condition["type"] == "InvalidSpec":
            return "Degraded", f"InvalidSpec: {condition['message']}"
        if condition["reason"] in (ABORTED, TIMED_OUT):
            return "Degraded", f"{condition['reason']}: {condition['message']}"
    if spec.get("paused"):
        return "Paused", "manually paused"
    if status.get("pauseConditions"):
        return "Paused", str(status["pauseConditions"][0]["reason"])
    if spec.get("restartAt") and status.get("restartedAt") != spec["restartAt"]:
        return "Progressing", "rollout is restarting"
    if status.get("updatedReplicas", 0) < int(spec.get("replicas", 1)):
        return "Progressing", "more replicas need to be updated"
    if status.get("availableReplicas", 0) < status.get("updatedReplicas", 0):
        return "Progressing", "updated replicas are still becoming available"
    blue_green = status.get("blueGreen") or {}
    active = blue_green.get("activeSelector")
    if not active or active != status.get("currentPodHash"):
        return "Progressing", "active service cutover pending"
    if not status.get("stableRS") or status.get("stableRS") != status.get("currentPodHash"):
        if _waiting_for_post_promotion_analysis(spec, status):
            return "Progressing", "waiting for analysis to complete"
        return "Progressing", "waiting for post-promotion verification to complete"
    return "Healthy", ""


def _waiting_for_post_promotion_analysis(spec: dict[str, Any], status: dict[str, Any]) -> bool:
    bg = (spec.get("strategy") or {}).get("blueGreen") or {}
    if bg.get("postPromotionAnalysis") is None:
        return False
    run = (status.get("blueGreen") or {}).get("postPromotionAnalysisRunStatus") or {}
    return run.get("status") not in ("Successful", "Failed", "Inconclusive", "Error")


def get_condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions", []) if c["type"] == kind), None)


def set_condition(
    status: dict[str, Any], kind: str, state: str, reason: str, message: str, stamp: str
) -> bool:
    """SetRolloutCondition: nothing changes when the status and reason are the same (the message
    and lastUpdateTime stay); otherwise the condition is replaced (and moves to the end of the
    list), keeping lastTransitionTime when only the reason changed. True when it changed."""
    current = get_condition(status, kind)
    if current is not None and (current["status"], current["reason"]) == (state, reason):
        return False
    transition = current["lastTransitionTime"] if current and current["status"] == state else stamp
    remove_condition(status, kind)
    status.setdefault("conditions", []).append(
        {
            "type": kind,
            "status": state,
            "reason": reason,
            "message": message,
            "lastTransitionTime": transition,
            "lastUpdateTime": stamp,
        }
    )
    return True


def remove_condition(status: dict[str, Any], kind: str) -> None:
    status["conditions"] = [c for c in status.get("conditions", []) if c["type"] != kind]


def rollout_progressing(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """RolloutProgressing: pods updated, old pods gone, more ready or available, a selector moved."""
    blue_green_old, blue_green_new = old.get("blueGreen") or {}, new.get("blueGreen") or {}
    moved = any(
        blue_green_old.get(k, "") != blue_green_new.get(k, "")
        for k in ("activeSelector", "previewSelector")
    )

    def n(status: dict[str, Any], key: str) -> int:
        return int(status.get(key, 0))

    old_pods = n(old, "replicas") - n(old, "updatedReplicas")
    new_pods = n(new, "replicas") - n(new, "updatedReplicas")
    return (
        n(new, "updatedReplicas") != n(old, "updatedReplicas")
        or new_pods < old_pods
        or n(new, "readyReplicas") > n(old, "readyReplicas")
        or n(new, "availableReplicas") > n(old, "availableReplicas")
        or moved
    )


def rollout_healthy(
    spec: dict[str, Any], generation: int, old: dict[str, Any], new: dict[str, Any]
) -> bool:
    """RolloutHealthy: every replica updated and available, the spec observed (by the status the
    pass started from), and both Services on the desired ReplicaSet."""
    replicas = int(spec.get("replicas", 1))
    blue_green = new.get("blueGreen") or {}
    current = new.get("currentPodHash")
    preview_done = not _blue_green(spec).get("previewService") or (
        blue_green.get("previewSelector") == current
    )
    return (
        new.get("updatedReplicas", 0) == replicas
        and new.get("availableReplicas", 0) == replicas
        and old.get("observedGeneration") == str(generation)
        and blue_green.get("activeSelector") == current
        and preview_done
    )


def rollout_completed(status: dict[str, Any]) -> bool:
    return bool(status.get("stableRS")) and status.get("stableRS") == status.get("currentPodHash")


def rollout_timed_out(spec: dict[str, Any], status: dict[str, Any], now: datetime) -> bool:
    """RolloutTimedOut: the Progressing condition is older than progressDeadlineSeconds (an
    aborted or paused one never times out; a timed-out one stays timed out)."""
    condition = get_condition(status, "Progressing")
    if condition is None or condition["reason"] in (ABORTED, PAUSED):
        return False
    if condition["reason"] == TIMED_OUT:
        return True
    deadline = int(spec.get("progressDeadlineSeconds", 600))
    return parse_rfc3339(condition["lastUpdateTime"]) + timedelta(seconds=deadline) < now


def _blue_green(spec: dict[str, Any]) -> dict[str, Any]:
    return dict((spec.get("strategy") or {}).get("blueGreen") or {})
