"""One reconcile pass of the blue-green controller, in the order argo-rollouts runs it.

Ported from ``rollout/controller.go`` (newRolloutContext), ``context.go`` (reconcile),
``bluegreen.go``, ``replicaset.go``, ``service.go``, ``pause.go``, ``restart.go`` and ``sync.go``
at 9f8d111d8: find or create the desired ReplicaSet, checkPausedConditions, the replicas-only
pass of a scaling event, then the preview Service, the ReplicaSets, the pause, the active
Service and the status. The ReplicaSet steps are in ``scaling.py``, the status in
``rolloutsync.py``. Services are the Rollout's own record of the hash each one selects.
``old`` is the status the pass started from (upstream's ``c.rollout.Status``); the new status
replaces it at the end, as the controller's status patch does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from gitops_release.sandbox.clock import parse_rfc3339
from gitops_release.sandbox.kube import new_uid, pod_template_hash
from gitops_release.sandbox.replicaset import ImagePolicy, ReplicaSet
from gitops_release.sandbox.rolloutanalysis import RolloutAnalysis, validation_error
from gitops_release.sandbox.rolloutstatus import (
    INVALID_SPEC,
    NEW_REPLICASET,
    NEW_REPLICASET_MESSAGE,
    calculate_phase,
    set_condition,
)
from gitops_release.sandbox.rolloutsync import check_paused_conditions, sync_status
from gitops_release.sandbox.scaling import ReplicaSetScaling

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


class Pass(ReplicaSetScaling):
    def __init__(self, rollout: Rollout, policy: ImagePolicy) -> None:
        self.ro, self.policy = rollout, policy
        self.spec, self.old = rollout.spec, rollout.status
        self.bg: dict[str, Any] = (self.spec.get("strategy") or {}).get("blueGreen") or {}
        self.replicas = int(self.spec.get("replicas", 1))
        self.now = rollout.clock.seconds()
        self.pause = PauseContext(self.old)
        self.restarted_at = self.old.get("restartedAt")
        self.analysis = RolloutAnalysis(self)

    # newRolloutContext ---------------------------------------------------------------------
    def run(self) -> None:
        ro = self.ro
        if self._invalid_spec():
            return
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

    def _invalid_spec(self) -> bool:
        """getRolloutValidationErrors (the analysis references) and createInvalidRolloutCondition:
        an invalid Rollout gets an InvalidSpec condition and nothing else happens; a fixed one
        loses it (calculateBaseStatus)."""
        error = validation_error(self.ro)
        if not error:
            if any(c.get("type") == INVALID_SPEC for c in self.old.get("conditions") or []):
                self.old = copy.deepcopy(self.old)
                self.old["conditions"] = [
                    c for c in self.old["conditions"] if c.get("type") != INVALID_SPEC
                ]
            return False
        status = copy.deepcopy(self.old)
        message = f'The Rollout "{self.ro.name}" is invalid: {error}'
        current = next(
            (c for c in status.get("conditions") or [] if c.get("type") == INVALID_SPEC), None
        )
        if current is None or current.get("message") != message:
            status["conditions"] = [
                c for c in status.get("conditions") or [] if c.get("type") != INVALID_SPEC
            ]
            set_condition(status, INVALID_SPEC, "True", INVALID_SPEC, message, self.stamp)
        status["observedGeneration"] = str(self.ro.generation)
        self.phase(status)
        self.ro.status = status
        return True

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
        self.analysis.reconcile()
        self._reconcile_ephemeral()
        self._sync_status()

    @property
    def halted(self) -> bool:
        """haltProgress: the user paused the rollout (spec.paused). The Services stay where they
        are and no BlueGreenPause is added or completed; the ReplicaSets are still scaled."""
        return bool(self.spec.get("paused"))

    # pause and the active Service --------------------------------------------------------
    def ready_for_pause(self) -> bool:
        assert self.new_rs is not None
        wanted = self.new_rs_replicas()
        return self.new_rs.replicas == wanted and self.available(self.new_rs) == wanted

    def saturated(self, rs: ReplicaSet) -> bool:
        return rs.replicas == rs.desired == self.replicas and self.available(rs) == self.replicas

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
        if not self.analysis.completed_pre_promotion():
            return  # not ready for pause: prePromotionAnalysis incomplete
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
        if self._fast_tracked():
            target = self.new_rs.hash
        if self.completed_pause() and self.analysis.completed_pre_promotion():
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

    # syncRolloutStatusBlueGreen ------------------------------------------------------------
    def _sync_status(self, *, reset: bool = False, replicas_only: bool = False) -> None:
        self.ro.run_replicasets(self.policy)
        sync_status(self, reset=reset, replicas_only=replicas_only)

    def phase(self, status: dict[str, Any]) -> None:
        phase, message = calculate_phase(self.spec, status)
        status["phase"] = phase
        if message:
            status["message"] = message
        else:
            status.pop("message", None)


__all__ = ["Pass", "PauseContext"]
