"""One reconcile pass of the blue-green controller, in the order argo-rollouts runs it.

Ported from ``rollout/controller.go`` (newRolloutContext), ``context.go`` (reconcile),
``bluegreen.go``, ``replicaset.go``, ``service.go``, ``pause.go``, ``restart.go`` and ``sync.go``
at 9f8d111d8: find or create the desired ReplicaSet, checkPausedConditions, the replicas-only
pass of a scaling event, then the preview Service, the ReplicaSets, the pause, the active
Service and the status. Services are the Rollout's own record of the hash each one selects.
``old`` is the status the pass started from (upstream's ``c.rollout.Status``); the new status
replaces it at the end, as the controller's status patch does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gitops_release.sandbox.clock import parse_rfc3339, rfc3339
from gitops_release.sandbox.kube import new_uid, pod_template_hash
from gitops_release.sandbox.replicaset import SCALE_DOWN_DEADLINE, ImagePolicy, ReplicaSet
from gitops_release.sandbox.rolloutstatus import (
    NEW_REPLICASET,
    NEW_REPLICASET_MESSAGE,
    calculate_phase,
    set_condition,
)
from gitops_release.sandbox.rolloutsync import check_paused_conditions, sync_status

if TYPE_CHECKING:
    from gitops_release.sandbox.rollout import Rollout

BLUE_GREEN_PAUSE = "BlueGreenPause"


@dataclass
class PauseContext:
    """rollout/pause.go pauseContext: what this pass decided about pauses and the abort."""

    old: dict[str, Any]
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    clear: bool = False
    add_abort: bool = False
    remove_abort: bool = False
    abort_message: str = ""

    def aborted(self) -> bool:
        return not self.remove_abort and (self.add_abort or bool(self.old.get("abort")))


class Pass:
    def __init__(self, rollout: Rollout, policy: ImagePolicy) -> None:
        self.ro, self.policy = rollout, policy
        self.spec, self.old = rollout.spec, rollout.status
        self.bg: dict[str, Any] = (self.spec.get("strategy") or {}).get("blueGreen") or {}
        self.replicas = int(self.spec.get("replicas", 1))
        self.now = rollout.clock.seconds()
        self.pause = PauseContext(self.old)
        self.restarted_at = self.old.get("restartedAt")

    # newRolloutContext ---------------------------------------------------------------------
    def run(self) -> None:
        ro = self.ro
        self.hash = pod_template_hash(self.spec.get("template") or {})
        self.new_rs = ro.replicaset(self.hash)
        self.within_delay = self.new_rs is not None and self._delay_left(self.new_rs) is not None
        if self.new_rs is None:
            self._create_new_rs()
            return  # the controller's status update ends this pass; the next one goes on
        self._sync_revision()
        self.stable_rs = ro.replicaset(str(self.old.get("stableRS") or ""))
        if self.old.get("stableRS") == self.old.get("currentPodHash") and self.pause.aborted():
            self.pause.remove_abort = True  # a fully promoted rollout is never aborted
        if check_paused_conditions(self):
            return
        if self._scaling_event():
            self._reconcile_replica_sets()
            self._sync_status(replicas_only=True)
            return
        self._blue_green()

    @property
    def others(self) -> list[ReplicaSet]:
        """otherRSs: neither the desired nor the stable ReplicaSet."""
        return [rs for rs in self.ro.replicasets if rs not in (self.new_rs, self.stable_rs)]

    def _create_new_rs(self) -> None:
        """createDesiredReplicaSet: replicas 0, revision max+1, a Progressing condition."""
        ro = self.ro
        top = max((r.revision for r in ro.replicasets), default=0)
        rs = ReplicaSet(
            name=f"{ro.name}-{self.hash}",
            hash=self.hash,
            uid=new_uid(),
            created=self.now,
            template=copy.deepcopy(self.spec.get("template") or {}),
            revision=top + 1,
        )
        stable = ro.replicaset(str(self.old.get("stableRS") or ""))
        # a first ReplicaSet will be the stable one: active metadata; later ones preview first
        rs.sync_ephemeral(self.bg.get("previewMetadata" if stable else "activeMetadata"))
        ro.replicasets.append(rs)
        status = copy.deepcopy(self.old)
        message = NEW_REPLICASET_MESSAGE.format(rs.name)
        set_condition(status, "Progressing", "True", NEW_REPLICASET, message, self.stamp)
        ro.status = status

    def _sync_revision(self) -> None:
        """syncReplicaSetRevision: a ReplicaSet that is desired again gets the next revision."""
        assert self.new_rs is not None
        older = [r.revision for r in self.ro.replicasets if r is not self.new_rs]
        if older and self.new_rs.revision < max(older) + 1:
            self.new_rs.revision = max(older) + 1

    def _scaling_event(self) -> bool:
        """isScalingEvent: the desired-replicas annotation of the desired or stable ReplicaSet
        (if scaled up) no longer matches spec.replicas."""
        return any(
            rs is not None and rs.replicas > 0 and rs.desired not in (None, self.replicas)
            for rs in (self.new_rs, self.stable_rs)
        )

    # rolloutBlueGreen ------------------------------------------------------------------------
    def _blue_green(self) -> None:
        assert self.new_rs is not None
        ro = self.ro
        if self.bg.get("previewService") and not self.halted:
            ro.services["preview"] = self.new_rs.hash  # reconcilePreviewService
        if self.old.get("currentPodHash") and self.old["currentPodHash"] != self.hash:
            self._sync_status(reset=True)  # CheckPodSpecChange: a new update starts
            return
        self._restart()
        self._reconcile_replica_sets()
        self._reconcile_pause()
        self._reconcile_active_service()
        self._reconcile_ephemeral()
        self._sync_status()

    @property
    def halted(self) -> bool:
        """haltProgress: the user paused the rollout (spec.paused). The Services stay where they
        are and no BlueGreenPause is added or completed; the ReplicaSets are still scaled."""
        return bool(self.spec.get("paused"))

    # ReplicaSets -----------------------------------------------------------------------------
    def _reconcile_replica_sets(self) -> None:
        """reconcileBlueGreenReplicaSets."""
        assert self.new_rs is not None
        if not self._delay_on_abort():  # removeScaleDownDeadlines
            self.new_rs.annotations.pop(SCALE_DOWN_DEADLINE, None)
        if self.stable_rs is not None:
            self.stable_rs.annotations.pop(SCALE_DOWN_DEADLINE, None)
            self._scale(self.stable_rs, self.replicas)
        self._reconcile_new_rs()
        self._scale_down_others()
        self._history_limit()

    def _scale(self, rs: ReplicaSet, count: int) -> None:
        """scaleReplicaSetAndRecordEvent: size and desired-replicas annotation."""
        rs.replicas, rs.desired = count, self.replicas
        if count == 0 and not self._delay_on_abort():
            rs.annotations.pop(SCALE_DOWN_DEADLINE, None)

    def new_rs_replicas(self) -> int:
        """NewRSNewReplicas for blue-green: previewReplicaCount until the pause is behind."""
        assert self.new_rs is not None
        preview = self.bg.get("previewReplicaCount")
        if preview is None:
            return self.replicas
        old = self.old
        active = self.ro.replicaset(str((old.get("blueGreen") or {}).get("activeSelector") or ""))
        if active is None or active is self.new_rs or old.get("promoteFull"):
            return self.replicas
        if self.new_rs.hash != old.get("currentPodHash"):
            return int(preview)
        paused = self.spec.get("paused") or old.get("pauseConditions")
        if not paused and (old.get("blueGreen") or {}).get("scaleUpPreviewCheckPoint"):
            return self.replicas
        return int(preview)

    def _abort_delay(self) -> int | None:
        """abortScaleDownDelaySeconds (default 30); None for 0, which means never."""
        delay = int(self.bg.get("abortScaleDownDelaySeconds", 30))
        return None if delay == 0 else delay

    def _delay_on_abort(self) -> bool:
        """shouldDelayScaleDownOnAbort."""
        return (
            self.pause.aborted() and self.stable_rs is not None and self._abort_delay() is not None
        )

    def _reconcile_new_rs(self) -> None:
        assert self.new_rs is not None
        rs, count = self.new_rs, self.new_rs_replicas()
        if self._delay_on_abort():
            deadline = rs.annotations.get(SCALE_DOWN_DEADLINE)
            if deadline:
                if self._delay_left(rs) is not None:
                    rs.desired = self.replicas
                    return  # kept up until its deadline
                count = 0
            else:
                rs.desired = self.replicas
                assert self.stable_rs is not None
                if self.available(self.stable_rs) >= self.replicas:
                    delay = self._abort_delay() or 0
                    rs.annotations[SCALE_DOWN_DEADLINE] = self._at(delay)
                return
        self._scale(rs, count)

    def _scale_down_others(self) -> None:
        """scaleDownOldReplicaSetsForBlueGreen: newest first; a ReplicaSet a selector or the
        status still names is kept; the others get a scale-down deadline and are scaled to
        zero when it passes."""
        annotated = 0
        for rs in sorted(self.others, key=lambda r: -r.revision):
            if rs.replicas == 0 or self._referenced(rs):
                continue
            annotated, desired = self._delay_helper(rs, annotated)
            if rs.replicas != desired:
                self._scale(rs, desired)

    def _referenced(self, rs: ReplicaSet) -> bool:
        old = self.old
        blue_green = old.get("blueGreen") or {}
        names = {
            old.get("stableRS"),
            old.get("currentPodHash"),
            blue_green.get("activeSelector"),
            blue_green.get("previewSelector"),
            *self.ro.services.values(),
        }
        return rs.hash in names

    def revision_limit(self) -> float:
        """GetScaleDownRevisionLimit: how many old ReplicaSets may run out their delay."""
        limit = self.bg.get("scaleDownDelayRevisionLimit")
        return float("inf") if limit is None else float(limit)

    def _delay_helper(self, rs: ReplicaSet, annotated: int) -> tuple[int, int]:
        """scaleDownDelayHelper: (ReplicaSets counted against the limit, replicas to keep)."""
        desired = 0
        if SCALE_DOWN_DEADLINE not in rs.annotations and rs.replicas > 0:
            if annotated < self.revision_limit():
                annotated += 1
                desired = rs.replicas
                delay = int(self.bg.get("scaleDownDelaySeconds", 30))
                if delay:
                    rs.annotations[SCALE_DOWN_DEADLINE] = self._at(delay)
        elif SCALE_DOWN_DEADLINE in rs.annotations:
            annotated += 1
            if annotated <= self.revision_limit() and self._delay_left(rs) is not None:
                desired = self.replicas
        return annotated, desired

    def _history_limit(self) -> None:
        """reconcileRevisionHistoryLimit: the oldest scaled-down ReplicaSets beyond the limit."""
        limit = int(self.spec.get("revisionHistoryLimit", 10))
        others = sorted(self.others, key=lambda r: r.created)
        for rs in others[: max(0, len(others) - limit)]:
            if rs.replicas == 0 and not rs.pods:
                self.ro.replicasets.remove(rs)

    # pause and the active Service --------------------------------------------------------
    def ready_for_pause(self) -> bool:
        assert self.new_rs is not None
        wanted = self.new_rs_replicas()
        return self.new_rs.replicas == wanted and self.available(self.new_rs) == wanted

    def saturated(self, rs: ReplicaSet) -> bool:
        return rs.replicas == rs.desired == self.replicas and self.available(rs) == self.replicas

    def waiting_for_scale_down(self) -> bool:
        """isWaitingForReplicaSetScaleDown: an older ReplicaSet still runs out its delay."""
        return any(SCALE_DOWN_DEADLINE in rs.annotations for rs in self.others)

    def is_rollback(self) -> bool:
        if self.new_rs is None or self.stable_rs is None:
            return False
        return (
            self.old.get("stableRS") == self.new_rs.hash
            or self.new_rs.created < self.stable_rs.created
        )

    def within_window(self) -> bool:
        """isRollbackWithinWindow: back to an older ReplicaSet with fewer than
        spec.rollbackWindow.revisions ReplicaSets created between it and the stable one."""
        revisions = int((self.spec.get("rollbackWindow") or {}).get("revisions") or 0)
        new, stable = self.new_rs, self.stable_rs
        if new is None or stable is None or not new.created < stable.created or revisions <= 0:
            return False
        between = [rs for rs in self.ro.replicasets if new.created < rs.created < stable.created]
        return len(between) < revisions

    def fast_rollback(self) -> bool:
        """isFastRollback: back to the stable ReplicaSet, to one still inside its scale-down
        delay, or to one inside the rollback window."""
        if not self.is_rollback():
            return False
        assert self.new_rs is not None
        to_stable = self.old.get("stableRS") == self.new_rs.hash
        return self.within_window() or self.within_delay or to_stable

    def _fast_tracked(self) -> bool:
        """isBlueGreenFastTracked."""
        active = self.ro.services.get("active", "")
        assert self.new_rs is not None
        return (
            self.fast_rollback()
            or bool(self.old.get("promoteFull"))
            or not active
            or active == self.new_rs.hash
        )

    def _needs_controller_pause(self) -> bool:
        return (
            self.bg.get("autoPromotionEnabled") is False
            or int(self.bg.get("autoPromotionSeconds") or 0) > 0
        )

    def _pause_condition(self) -> dict[str, Any] | None:
        return next(
            (c for c in self.old.get("pauseConditions") or [] if c["reason"] == BLUE_GREEN_PAUSE),
            None,
        )

    def completed_pause(self) -> bool:
        """CompletedBlueGreenPause: resumed by a human, or autoPromotionSeconds passed."""
        if self.pause.add:
            return False
        if (self.old.get("blueGreen") or {}).get("scaleUpPreviewCheckPoint"):
            return True
        condition = self._pause_condition()
        if self.bg.get("autoPromotionEnabled", True) is not False:
            seconds = int(self.bg.get("autoPromotionSeconds") or 0)
            if seconds == 0:
                return True
            if condition is not None:
                started = parse_rfc3339(condition["startTime"])
                return self.now_dt > started + timedelta(seconds=seconds)
            return False
        return bool(self.old.get("controllerPause")) and condition is None

    def _reconcile_pause(self) -> None:
        """reconcileBlueGreenPause."""
        if self.old.get("abort") or not self.ready_for_pause() or self.halted:
            return
        assert self.new_rs is not None
        if (
            self._fast_tracked()
            or self.ro.services.get("active") == self.new_rs.hash
            or (self.old.get("blueGreen") or {}).get("scaleUpPreviewCheckPoint")
            or not self._needs_controller_pause()
        ):
            self.pause.remove.append(BLUE_GREEN_PAUSE)
            return
        if self._pause_condition() is not None:
            if self.completed_pause():
                self.pause.remove.append(BLUE_GREEN_PAUSE)
        elif not self.old.get("controllerPause"):
            self.pause.add.append(BLUE_GREEN_PAUSE)

    def _reconcile_active_service(self) -> None:
        assert self.new_rs is not None
        if self.halted or not self.ready_for_pause() or not self.saturated(self.new_rs):
            return
        target = self.ro.services.get("active", "")
        if self._fast_tracked() or self.completed_pause():
            target = self.new_rs.hash
        if self.old.get("abort"):
            target = str(self.old.get("stableRS") or "")
        self.ro.services["active"] = target

    def _reconcile_ephemeral(self) -> None:
        """reconcileEphemeralMetadata: activeMetadata on the stable pods (and on the desired
        ones once fully promoted), previewMetadata on the desired ones during an update,
        nothing injected on the others."""
        if "previewMetadata" not in self.bg and "activeMetadata" not in self.bg:
            return
        assert self.new_rs is not None
        active, preview = self.bg.get("activeMetadata"), self.bg.get("previewMetadata")
        stable = self.old.get("stableRS")
        if not stable or stable == self.new_rs.hash:
            self.new_rs.sync_ephemeral(active)
        else:
            self.new_rs.sync_ephemeral(preview)
            if self.stable_rs is not None:
                self.stable_rs.sync_ephemeral(active)
        for rs in self.others:
            rs.sync_ephemeral(None)

    # restart.go ------------------------------------------------------------------------------
    def _restart(self) -> None:
        """RolloutPodRestarter: evict pods older than spec.restartAt, as many at a time as
        maxUnavailable allows (at least one), stable ReplicaSet first; restartedAt once none is
        left."""
        restart_at = self.spec.get("restartAt")
        if not restart_at or restart_at == self.restarted_at:
            return
        moment = parse_rfc3339(restart_at)
        if self.now_dt < moment:
            return
        order = sorted(
            self.ro.replicasets,
            key=lambda r: (r is not self.stable_rs, r is not self.new_rs, r.created),
        )
        pods = [(rs, pod) for rs in order for pod in rs.pods]
        total = sum(rs.replicas for rs in self.ro.replicasets)
        available = sum(1 for rs, pod in pods if pod.state(self.now, self.ro.timing)[1])
        concurrent = max(self._max_unavailable(), 1)
        can = available - (max(self.replicas, total) - concurrent)
        cutoff = (moment - self.ro.clock.at(0)).total_seconds()
        needs = restarted = 0
        for rs, pod in pods:
            if pod.created >= cutoff:
                continue
            needs += 1
            if can <= 0:
                continue
            rs.pods.remove(pod)  # evicted; its ReplicaSet creates a new one
            can, restarted = can - 1, restarted + 1
        if needs == restarted:
            self.restarted_at = restart_at

    def _max_unavailable(self) -> int:
        value = self.bg.get("maxUnavailable", "25%")
        if isinstance(value, str) and value.endswith("%"):
            return min(self.replicas, int(self.replicas * int(value[:-1]) // 100))
        return min(self.replicas, int(value))

    # syncRolloutStatusBlueGreen ------------------------------------------------------------
    def _sync_status(self, *, reset: bool = False, replicas_only: bool = False) -> None:
        self.ro.run_replicasets(self.policy)
        sync_status(self, reset=reset, replicas_only=replicas_only)

    # helpers -------------------------------------------------------------------------------
    def available(self, rs: ReplicaSet) -> int:
        return rs.available(self.now, self.ro.timing)

    @property
    def now_dt(self) -> datetime:
        return self.ro.clock.at(self.now)

    @property
    def stamp(self) -> str:
        return rfc3339(self.now_dt)

    def _at(self, seconds: float) -> str:
        return rfc3339(self.ro.clock.at(self.now + seconds))

    def _delay_left(self, rs: ReplicaSet) -> float | None:
        """Seconds until the scale-down deadline, None when there is none or it has passed."""
        deadline = rs.annotations.get(SCALE_DOWN_DEADLINE)
        if not deadline:
            return None
        try:
            left = (parse_rfc3339(deadline) - self.now_dt).total_seconds()
        except ValueError:
            return None
        return left if left > 0 else None

    def phase(self, status: dict[str, Any]) -> None:
        phase, message = calculate_phase(self.spec, status)
        status["phase"] = phase
        if message:
            status["message"] = message
        else:
            status.pop("message", None)


__all__ = ["Pass", "PauseContext"]
