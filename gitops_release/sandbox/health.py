"""Argo CD health: the Rollout check ported from Lua, the built-in kinds, and app aggregation.

``rollout_health`` is a line-by-line port of Argo CD's
``resource_customizations/argoproj.io/Rollout/health.lua`` (copied in ``specs/``); the test suite
runs every row of its ``health_test.yaml`` against this port and against the original Lua.
"""

from __future__ import annotations

from typing import Any

# gitops-engine pkg/health/health.go: IsWorse ordering.
HEALTH_ORDER = ["Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown"]


def _num(value: Any) -> float | None:
    """Lua's tonumber for the values that occur here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _generation_observed(obj: dict[str, Any]) -> bool:
    status = obj.get("status")
    if status is None:
        return False
    observed = _num(status.get("observedGeneration"))
    generation = _num((obj.get("metadata") or {}).get("generation"))
    if observed is None or (generation is not None and observed > generation):
        return True  # a v0.9 rollout (hash in observedGeneration)
    return observed == generation


def _workload_generation_observed(obj: dict[str, Any]) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations")
    if (obj.get("spec") or {}).get("workloadRef") is None or annotations is None:
        return True
    workload = _num(annotations.get("rollout.argoproj.io/workload-generation"))
    observed = _num((obj.get("status") or {}).get("workloadObservedGeneration"))
    return workload == observed


def _replicas_status(obj: dict[str, Any]) -> dict[str, str] | None:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = spec.get("replicas", 1) if spec.get("replicas") is not None else 1
    updated = status.get("updatedReplicas") or 0
    available = status.get("availableReplicas") or 0
    if updated < desired:
        return {
            "status": "Progressing",
            "message": "Waiting for roll out to finish: More replicas need to be updated",
        }
    if available < updated:
        return {
            "status": "Progressing",
            "message": "Waiting for roll out to finish: updated replicas are still becoming available",
        }
    return None


def rollout_health(obj: dict[str, Any]) -> dict[str, str]:
    """``{"status": ..., "message": ...}`` exactly as the Lua health check returns it."""
    if not _generation_observed(obj) or not _workload_generation_observed(obj):
        return {
            "status": "Progressing",
            "message": "Waiting for rollout spec update to be observed",
        }
    status: dict[str, Any] = obj["status"]
    spec: dict[str, Any] = obj.get("spec") or {}
    if status.get("phase") is not None:
        phase = status["phase"]
        return {
            "status": "Suspended" if phase == "Paused" else phase,
            "message": status.get("message") or "",
        }
    for condition in status.get("conditions") or []:
        if condition.get("type") == "InvalidSpec":
            return {"status": "Degraded", "message": condition.get("message") or ""}
        if condition.get("type") == "Progressing" and condition.get("reason") in (
            "RolloutAborted",
            "ProgressDeadlineExceeded",
        ):
            return {"status": "Degraded", "message": condition.get("message") or ""}
    if status.get("pauseConditions") or spec.get("paused"):
        return {"status": "Suspended", "message": "Rollout is paused"}
    if status.get("currentPodHash") is None:
        return {
            "status": "Progressing",
            "message": "Waiting for rollout to finish: status has not been reconciled.",
        }
    replicas = _replicas_status(obj)
    if replicas is not None:
        return replicas
    stable = status.get("stableRS")
    if stable is None:
        stable = (status.get("canary") or {}).get("stableRS") or ""
    strategy = spec.get("strategy") or {}
    current = status.get("currentPodHash")
    if strategy.get("blueGreen") is not None:
        blue_green = status.get("blueGreen")
        if blue_green is None or blue_green.get("activeSelector") != current:
            return {"status": "Progressing", "message": "active service cutover pending"}
        if stable != "" and stable != current:
            return {"status": "Progressing", "message": "waiting for analysis to complete"}
    elif strategy.get("canary") is not None:
        if (status.get("replicas") or 0) > (status.get("updatedReplicas") or 0):
            return {
                "status": "Progressing",
                "message": "Waiting for roll out to finish: old replicas are pending termination",
            }
        if stable == "" or stable != current:
            return {"status": "Progressing", "message": "Waiting for rollout to finish steps"}
    return {"status": "Healthy", "message": ""}


def replicaset_health(rs: dict[str, Any]) -> dict[str, str]:
    """gitops-engine pkg/health/health_replicaset.go."""
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    desired = spec.get("replicas", 1)
    available = status.get("availableReplicas") or 0
    if (rs.get("metadata") or {}).get("generation", 0) > status.get("observedGeneration", 0):
        return {
            "status": "Progressing",
            "message": "Waiting for rollout to finish: observed replica set generation less than desired generation",
        }
    if available < desired:
        return {
            "status": "Progressing",
            "message": f"Waiting for rollout to finish: {available} out of {desired} new replicas are available...",
        }
    return {"status": "Healthy", "message": ""}


def pod_health(pod: dict[str, Any]) -> dict[str, str]:
    """gitops-engine pkg/health/health_pod.go, for the pod states the sandbox produces."""
    status = pod.get("status") or {}
    phase = status.get("phase", "Pending")
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"):
            return {"status": "Degraded", "message": waiting.get("message") or waiting["reason"]}
    if phase == "Running":
        ready = all(cs.get("ready") for cs in status.get("containerStatuses") or [])
        if ready:
            return {"status": "Healthy", "message": ""}
        return {"status": "Progressing", "message": ""}
    if phase == "Failed":
        return {"status": "Degraded", "message": status.get("message") or ""}
    return {"status": "Progressing", "message": ""}


_ANALYSIS_RUN_HEALTH = {
    "Pending": ("Progressing", "Analysis run is running", True),
    "Running": ("Progressing", "Analysis run is running", True),
    "Successful": ("Healthy", "Analysis run completed successfully", False),
    "Failed": ("Degraded", "Analysis run failed", False),
    "Error": ("Degraded", "Analysis run had an error", False),
    "Inconclusive": ("Unknown", "Analysis run was inconclusive", False),
}


def analysis_run_health(obj: dict[str, Any]) -> dict[str, str]:
    """resource_customizations/argoproj.io/AnalysisRun/health.lua."""
    status = obj.get("status")
    if status is None:
        return {
            "status": "Progressing",
            "message": "Waiting for analysis run to finish: status has not been reconciled.",
        }
    found = _ANALYSIS_RUN_HEALTH.get(str(status.get("phase") or ""))
    if found is None:
        return {}  # the Lua returns an empty table for any other phase
    health, default, fixed = found
    message = default if fixed or status.get("message") is None else status["message"]
    return {"status": health, "message": message}


def resource_health(kind: str, group: str, obj: dict[str, Any]) -> dict[str, str] | None:
    """Health for a live object, or None when Argo CD has no health check for the kind."""
    if kind == "AnalysisRun" and group == "argoproj.io":
        return analysis_run_health(obj) or None
    if kind == "Rollout" and group == "argoproj.io":
        return rollout_health(obj)
    if kind == "ReplicaSet":
        return replicaset_health(obj)
    if kind == "Pod":
        return pod_health(obj)
    if kind in ("Service", "ConfigMap", "Secret") and group == "":
        return {"status": "Healthy", "message": ""}
    if kind in ("Deployment", "Ingress", "PersistentVolumeClaim"):
        return {"status": "Healthy", "message": ""}
    return None  # e.g. a Traefik IngressRoute: no health check, not counted


def worst(statuses: list[str]) -> str:
    """App health: the worst resource health (Healthy when there is none)."""
    result = "Healthy"
    for status in statuses:
        if HEALTH_ORDER.index(status) > HEALTH_ORDER.index(result):
            result = status
    return result
