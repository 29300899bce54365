"""The ReplicaSet side of a blue-green pass: ``reconcileBlueGreenReplicaSets`` (the stable and the
desired ReplicaSet, ``NewRSNewReplicas``, the delayed scale-down of an aborted preview),
``scaleDownOldReplicaSetsForBlueGreen`` with ``scaleDownDelayHelper`` and the revision limit,
``reconcileRevisionHistoryLimit`` and the pod restarter (rollout/replicaset.go, bluegreen.go,
restart.go at 9f8d111d8). A base of :class:`~gitops_release.sandbox.bluegreen.Pass`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from gitops_release.sandbox.clock import parse_rfc3339, rfc3339
from gitops_release.sandbox.replicaset import SCALE_DOWN_DEADLINE, ReplicaSet

if TYPE_CHECKING:
    from gitops_release.sandbox.bluegreen import PauseContext
    from gitops_release.sandbox.rollout import Rollout
    from gitops_release.sandbox.rolloutanalysis import RolloutAnalysis


class ReplicaSetScaling:
    ro: Rollout
    spec: dict[str, Any]
    old: dict[str, Any]
    bg: dict[str, Any]
    replicas: int
    now: float
    pause: PauseContext
    restarted_at: Any
    new_rs: ReplicaSet | None
    stable_rs: ReplicaSet | None
    analysis: RolloutAnalysis

    @property
    def others(self) -> list[ReplicaSet]:
        """otherRSs: neither the desired nor the stable ReplicaSet."""
        return [rs for rs in self.ro.replicasets if rs not in (self.new_rs, self.stable_rs)]

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
        if self.analysis.post_promotion_blocks_scale_down():
            return
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

    def waiting_for_scale_down(self) -> bool:
        """isWaitingForReplicaSetScaleDown: an older ReplicaSet still runs out its delay."""
        return any(SCALE_DOWN_DEADLINE in rs.annotations for rs in self.others)

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
