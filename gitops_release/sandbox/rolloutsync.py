"""The status a blue-green pass writes: ``syncRolloutStatusBlueGreen`` (rollout/bluegreen.go),
``calculateBaseStatus``, ``persistRolloutStatus``, ``calculateRolloutConditions`` and
``checkPausedConditions`` (rollout/sync.go), and ``CalculatePauseStatus`` (rollout/pause.go).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from gitops_release.sandbox.rolloutstatus import (
    ABORTED,
    ABORTED_MESSAGE,
    AVAILABLE_MESSAGE,
    AVAILABLE_REASON,
    COMPLETED,
    HEALTHY,
    HEALTHY_MESSAGE,
    NEW_RS_AVAILABLE,
    NOT_AVAILABLE_MESSAGE,
    NOT_HEALTHY_MESSAGE,
    PAUSED,
    PAUSED_MESSAGE,
    REPLICASET_COMPLETED,
    REPLICASET_NOT_AVAILABLE,
    REPLICASET_PROGRESSING,
    REPLICASET_UPDATED,
    RESUMED,
    RESUMED_MESSAGE,
    RETRY,
    RETRY_MESSAGE,
    TIMED_OUT,
    TIMED_OUT_MESSAGE,
    get_condition,
    remove_condition,
    rollout_completed,
    rollout_healthy,
    rollout_progressing,
    rollout_timed_out,
    set_condition,
)

if TYPE_CHECKING:
    from gitops_release.sandbox.bluegreen import Pass
    from gitops_release.sandbox.replicaset import ReplicaSet


def check_paused_conditions(p: Pass) -> bool:
    """checkPausedConditions: keep the Progressing and Paused conditions in step with a pause
    or a resume before anything else; True when it wrote the status (the pass ends there)."""
    old, spec = p.old, p.spec
    if old.get("observedGeneration") != str(p.ro.generation):
        return False
    progressing = get_condition(old, "Progressing")
    reason = progressing["reason"] if progressing else ""
    paused = bool(old.get("pauseConditions")) or bool(spec.get("paused"))
    abort_condition = reason == ABORTED
    new = copy.deepcopy(old)
    changed = False
    if paused != (reason == PAUSED) and not abort_condition and not rollout_completed(old):
        why, message = (PAUSED, PAUSED_MESSAGE) if paused else (RESUMED, RESUMED_MESSAGE)
        changed |= set_condition(new, "Progressing", "Unknown", why, message, p.stamp)
    if not old.get("abort") and abort_condition:
        changed |= set_condition(new, "Progressing", "Unknown", RETRY, RETRY_MESSAGE, p.stamp)
    condition = get_condition(old, "Paused")
    if paused != bool(condition and condition["status"] == "True") and not abort_condition:
        state = "True" if paused else "False"
        changed |= set_condition(new, "Paused", state, PAUSED, PAUSED_MESSAGE, p.stamp)
    if not changed:
        return False
    new["observedGeneration"] = str(p.ro.generation)
    p.phase(new)
    p.ro.status = new
    return True


def sync_status(p: Pass, *, reset: bool = False, replicas_only: bool = False) -> None:
    """syncRolloutStatusBlueGreen (or, for a scaling event, syncReplicasOnly's status)."""
    old, ro = p.old, p.ro
    assert p.new_rs is not None
    every = ro.replicasets
    total = sum(len(rs.pods) for rs in every)
    if replicas_only:
        new = copy.deepcopy(old)
        active = ro.replicaset(str((old.get("blueGreen") or {}).get("activeSelector") or ""))
        new["HPAReplicas"] = len(active.pods) if active else total
        new["availableReplicas"] = p.available(active) if active else _available(p, every)
        _persist(p, new)
        return
    new: dict[str, Any] = {  # type: ignore[no-redef]
        "currentPodHash": p.hash,
        "replicas": total,
        "updatedReplicas": len(p.new_rs.pods),
        "readyReplicas": _available(p, every),
        "conditions": copy.deepcopy(old.get("conditions") or []),
        "restartedAt": p.restarted_at,
        "promoteFull": bool(old.get("promoteFull")),
        "stableRS": old.get("stableRS"),
        "blueGreen": {},
        "canary": {},
    }
    if reset:  # resetRolloutStatus
        p.pause.clear = p.pause.remove_abort = True
        new["restartedAt"] = p.spec.get("restartAt")
        new["promoteFull"] = False
    if old.get("promoteFull") or p.within_window():
        p.pause.clear = p.pause.remove_abort = True
    blue_green = new["blueGreen"]
    if p.bg.get("previewService"):
        blue_green["previewSelector"] = ro.services.get("preview", "")
    blue_green["activeSelector"] = ro.services.get("active", "")
    if not reset:
        blue_green.update(p.analysis.status())
    if _should_full_promote(p, new):
        p.pause.clear = p.pause.remove_abort = True  # promoteStable
        new["promoteFull"] = False
        new["stableRS"] = new["currentPodHash"]
    else:
        blue_green["scaleUpPreviewCheckPoint"] = _scale_up_checkpoint(p)
    active = ro.replicaset(blue_green["activeSelector"])
    selector = dict((p.spec.get("selector") or {}).get("matchLabels") or {})
    if active is not None:
        new["HPAReplicas"] = len(active.pods)
        selector = active.selector()
        new["availableReplicas"] = new["readyReplicas"] = p.available(active)
    else:
        new["HPAReplicas"] = total
        new["availableReplicas"] = _available(p, every)
    new["selector"] = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    _persist(p, new)


def _available(p: Pass, sets: list[ReplicaSet]) -> int:
    return sum(p.available(rs) for rs in sets)


def _should_full_promote(p: Pass, new: dict[str, Any]) -> str:
    """shouldFullPromote (blue-green): why the desired ReplicaSet becomes stable now."""
    active = new["blueGreen"].get("activeSelector")
    if p.stable_rs is None or not active:
        return "Initial deploy"
    if active != new["currentPodHash"]:
        return ""
    if p.old.get("promoteFull"):
        return "Full promotion requested"
    if p.fast_rollback():
        return "Rollback within window" if p.within_window() else "Fast rollback"
    if p.pause.aborted():
        return ""
    if not p.analysis.post_promotion_successful():
        return ""  # post-promotion analysis not started yet, or not successful
    return "Completed blue-green update"


def _scale_up_checkpoint(p: Pass) -> bool:
    """calculateScaleUpPreviewCheckPoint: a one-way latch once the (resumed) preview is up."""
    preview = p.bg.get("previewReplicaCount")
    if preview is None:
        return False
    if (p.old.get("blueGreen") or {}).get("scaleUpPreviewCheckPoint"):
        return True
    assert p.new_rs is not None
    if not p.analysis.completed_pre_promotion() or not p.completed_pause():
        return False
    return int(preview) == p.available(p.new_rs)


def _persist(p: Pass, new: dict[str, Any]) -> None:
    """persistRolloutStatus: abort and pause fields, conditions, phase; then the status patch."""
    new["observedGeneration"] = str(p.ro.generation)
    _progress_deadline_abort(p, new)
    _pause_status(p, new)
    _conditions(p, new)
    p.phase(new)
    p.ro.status = _omit_empty(new)


def _progress_deadline_abort(p: Pass, new: dict[str, Any]) -> None:
    """evaluateProgressDeadlineAbort: with spec.progressDeadlineAbort, an update that has timed
    out (and made no progress in this pass) aborts itself, saying why."""
    if not p.spec.get("progressDeadlineAbort") or p.pause.aborted() or rollout_completed(new):
        return
    if rollout_progressing(p.old, new) or _paused_condition(p.old) or p.waiting_for_scale_down():
        return
    if not rollout_timed_out(p.spec, p.old, p.now_dt):
        return
    assert p.new_rs is not None
    p.pause.add_abort = True
    p.pause.abort_message = TIMED_OUT_MESSAGE.format(p.new_rs.name)


def _pause_status(p: Pass, new: dict[str, Any]) -> None:
    """CalculatePauseStatus: an abort wins; a cleared pause leaves none; otherwise the pause
    conditions this pass added or removed, with controllerPause set by the first one added."""
    old, pause = p.old, p.pause
    if pause.add_abort or (not pause.remove_abort and old.get("abort")):
        new["abort"] = True
        new["abortedAt"] = old.get("abortedAt") or p.stamp
        return
    if pause.clear:
        return
    controller = bool(old.get("controllerPause"))
    existing = list(old.get("pauseConditions") or [])
    kept = [copy.deepcopy(c) for c in existing if c["reason"] not in pause.remove]
    for reason in pause.add:
        if reason not in {c["reason"] for c in existing}:
            kept.append({"reason": reason, "startTime": p.stamp})
            controller = True
    if kept:
        new["controllerPause"] = controller
        new["pauseConditions"] = kept


def _conditions(p: Pass, new: dict[str, Any]) -> None:
    """calculateRolloutConditions."""
    old, spec, stamp = p.old, p.spec, p.stamp
    assert p.new_rs is not None
    paused = bool(new.get("pauseConditions")) or bool(spec.get("paused"))
    aborted = p.pause.aborted()
    healthy = rollout_healthy(spec, p.ro.generation, old, new)
    unhealthy = False
    if not paused and healthy:
        set_condition(new, "Healthy", "True", HEALTHY, HEALTHY_MESSAGE, stamp)
    elif get_condition(old, "Healthy") is not None:
        unhealthy = set_condition(new, "Healthy", "False", HEALTHY, NOT_HEALTHY_MESSAGE, stamp)
    if aborted:
        message = ABORTED_MESSAGE.format(p.new_rs.revision)
        if p.pause.abort_message:
            message = f"{message}: {p.pause.abort_message}"
        set_condition(new, "Progressing", "False", ABORTED, message, stamp)
    else:
        current = get_condition(old, "Progressing")
        if healthy:
            message = REPLICASET_COMPLETED.format(p.new_rs.name)
            set_condition(new, "Progressing", "True", NEW_RS_AVAILABLE, message, stamp)
        elif rollout_progressing(old, new) or unhealthy:
            if new.get("stableRS") == new.get("currentPodHash") and unhealthy:
                reason, message = REPLICASET_NOT_AVAILABLE, NOT_AVAILABLE_MESSAGE
            else:
                reason, message = REPLICASET_UPDATED, REPLICASET_PROGRESSING.format(p.new_rs.name)
            # progress moves lastUpdateTime (the deadline's start), not lastTransitionTime
            since = (
                current["lastTransitionTime"] if current and current["status"] == "True" else stamp
            )
            remove_condition(new, "Progressing")
            new["conditions"].append(
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": reason,
                    "message": message,
                    "lastTransitionTime": since,
                    "lastUpdateTime": stamp,
                }
            )
        elif (
            not _paused_condition(old)
            and not p.waiting_for_scale_down()
            and rollout_timed_out(spec, new, p.now_dt)
        ):
            message = TIMED_OUT_MESSAGE.format(p.new_rs.name)
            set_condition(new, "Progressing", "False", TIMED_OUT, message, stamp)
    active = p.ro.replicaset(new["blueGreen"].get("activeSelector") or "")
    if active is not None and p.saturated(active):
        set_condition(new, "Available", "True", AVAILABLE_REASON, AVAILABLE_MESSAGE, stamp)
    else:
        set_condition(new, "Available", "False", AVAILABLE_REASON, NOT_AVAILABLE_MESSAGE, stamp)
    state = "True" if rollout_completed(new) else "False"
    set_condition(new, "Completed", state, COMPLETED, COMPLETED, stamp)


def _paused_condition(status: dict[str, Any]) -> bool:
    """isIndefiniteStep for blue-green: a paused rollout does not run out of time."""
    condition = get_condition(status, "Paused")
    return bool(condition and condition["status"] == "True")


def _omit_empty(status: dict[str, Any]) -> dict[str, Any]:
    """The Go types' omitempty: zero numbers, empty strings, false and empty lists are left
    out; the blueGreen and canary structs always travel (omitempty does not drop structs)."""
    out: dict[str, Any] = {}
    for key, value in status.items():
        if key in ("blueGreen", "canary"):
            out[key] = {k: v for k, v in (value or {}).items() if v}
        elif value:
            out[key] = value
    return out
