"""The phase and message of a Rollout whose controller wrote none (Argo Rollouts before v1.0).

Since v1.0 the controller writes ``status.phase`` and ``status.message``; before, clients computed
them. We do as argo-rollouts ``utils/rollout/rolloututil.go`` does (``GetRolloutPhase`` falls back
to ``CalculateRolloutPhase``), so ``status``, ``list`` and ``wait`` agree with
``kubectl argo rollouts get`` on old clusters too. Controllers up to v0.9 wrote a pod-template hash
into ``status.observedGeneration``: such a value means "observed" (``isGenerationObserved``).
"""

from __future__ import annotations

from typing import Any

ABORTED = "RolloutAborted"  # conditions.RolloutAbortedReason
TIMED_OUT = "ProgressDeadlineExceeded"  # conditions.TimedOutReason
_ANALYSIS_DONE = frozenset({"Successful", "Failed", "Error", "Inconclusive"})


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def is_hash(observed: Any) -> bool:
    """``status.observedGeneration`` holds no number (a v0.9 pod-template hash): upstream's
    ``isGenerationObserved`` then counts the spec as observed."""
    if observed is None:
        return False
    try:
        int(str(observed))
    except ValueError:
        return True
    return False


def calculate(spec: dict[str, Any], status: dict[str, Any]) -> tuple[str, str]:
    """``CalculateRolloutPhase``: (phase, message) from spec and status, in upstream's order."""
    for cond in status.get("conditions") or []:
        if not isinstance(cond, dict):
            continue
        if cond.get("type") == "InvalidSpec":
            return "Degraded", f"InvalidSpec: {cond.get('message') or ''}"
        if cond.get("reason") in (ABORTED, TIMED_OUT):
            return "Degraded", f"{cond['reason']}: {cond.get('message') or ''}"
    if spec.get("paused"):
        return "Paused", "manually paused"
    for pause in status.get("pauseConditions") or []:
        return "Paused", str(_get(pause, "reason") or "")
    restart_at = spec.get("restartAt")
    if restart_at and status.get("restartedAt") != restart_at:
        return "Progressing", "rollout is restarting"
    if _int(status.get("updatedReplicas")) < _int(spec.get("replicas"), 1):
        return "Progressing", "more replicas need to be updated"
    if _int(status.get("availableReplicas")) < _int(status.get("updatedReplicas")):
        return "Progressing", "updated replicas are still becoming available"
    current, stable = status.get("currentPodHash") or "", status.get("stableRS") or ""
    blue_green = _get(spec, "strategy", "blueGreen")
    canary = _get(spec, "strategy", "canary")
    if isinstance(blue_green, dict):
        active = _get(status, "blueGreen", "activeSelector") or ""
        if not active or active != current:
            return "Progressing", "active service cutover pending"
        if not stable or stable != current:
            analysis = _get(status, "blueGreen", "postPromotionAnalysisRunStatus", "status")
            if blue_green.get("postPromotionAnalysis") and analysis not in _ANALYSIS_DONE:
                return "Progressing", "waiting for analysis to complete"
            return "Progressing", "waiting for post-promotion verification to complete"
    elif isinstance(canary, dict):
        if not canary.get("trafficRouting") and _int(status.get("replicas")) > _int(
            status.get("updatedReplicas")
        ):
            return "Progressing", "old replicas are pending termination"
        if not stable or stable != current:
            return "Progressing", "waiting for all steps to complete"
    return "Healthy", ""


def phase_of(spec: dict[str, Any], status: dict[str, Any]) -> tuple[str, str]:
    """What the controller wrote (v1.0+), else what ``CalculateRolloutPhase`` computes."""
    if status.get("phase"):
        return str(status["phase"]), str(status.get("message") or "")
    return calculate(spec, status)
