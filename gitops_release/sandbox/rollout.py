"""The Argo Rollouts blue-green controller, reduced to what a release tool can observe.

Faithful to ``rollout/bluegreen.go`` and friends as summarised in ``reference/argo-api.md``
section 3: one ReplicaSet per pod template (named by its hash), revisions, preview scaled to
``previewReplicaCount``, BlueGreenPause, promote / promote-full, abort (Degraded
``RolloutAborted``), retry, undo, scale-down delays, autoPromotionSeconds and
ProgressDeadlineExceeded. :meth:`Rollout.reconcile` is a pure function of the state and the
controller time, so a test can drive it with a clock it controls.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from gitops_release.sandbox.clock import Clock, parse_rfc3339, rfc3339
from gitops_release.sandbox.kube import new_uid, pod_template_hash
from gitops_release.sandbox.replicaset import (
    HASH_LABEL,
    REVISION,
    SCALE_DOWN_DEADLINE,
    ImagePolicy,
    ReplicaSet,
    Timing,
)
from gitops_release.sandbox.rolloutstatus import calculate_phase, set_condition


class RolloutError(Exception):
    """A request the real API would refuse (message as the real one words it)."""


class Rollout:
    def __init__(
        self, manifest: dict[str, Any], *, namespace: str, clock: Clock, timing: Timing
    ) -> None:
        self.clock, self.timing = clock, timing
        now = clock.seconds()
        meta = manifest.get("metadata") or {}
        self.name: str = meta["name"]
        self.namespace = namespace
        self.uid = new_uid()
        self.created = now
        self.generation = 1
        self.labels: dict[str, str] = dict(meta.get("labels") or {})
        self.spec: dict[str, Any] = copy.deepcopy(manifest.get("spec") or {})
        self.status: dict[str, Any] = {}
        self.replicasets: list[ReplicaSet] = []
        self._progress_since = now
        self._last_available = -1
        self._fast = False  # this update is a fast rollback: no pause

    # inputs ----------------------------------------------------------------------------
    def apply(self, manifest: dict[str, Any]) -> None:
        """kubectl apply of a new desired manifest (Argo CD sync)."""
        spec = copy.deepcopy(manifest.get("spec") or {})
        for kept in ("restartAt", "paused"):  # fields a user set live, not in Git
            if kept in self.spec and kept not in spec:
                spec[kept] = self.spec[kept]
        self.labels = dict((manifest.get("metadata") or {}).get("labels") or {})
        if spec != self.spec:
            self.spec = spec
            self.generation += 1

    def set_template(self, template: dict[str, Any]) -> None:
        self.spec["template"] = copy.deepcopy(template)
        self.generation += 1

    def promote(self, *, full: bool) -> bool:
        """kubectl argo rollouts promote [--full]; False when nothing was patched (silent no-op)."""
        if full:
            patched = False
            if self.status.get("currentPodHash") != self.status.get("stableRS"):
                self.status["promoteFull"] = True
                patched = True
            if self.spec.get("paused"):
                self.spec["paused"] = False
                self.generation += 1
                patched = True
            return patched
        patched = False  # promote.go getPatches: the status patch and the spec patch, both
        if self.status.get("pauseConditions"):
            self.status.pop("pauseConditions")
            patched = True
        if self.spec.get("paused"):
            self.spec["paused"] = False
            self.generation += 1
            patched = True
        return patched

    def abort(self) -> None:
        self.status["abort"] = True

    def retry(self) -> None:
        self.status.pop("abort", None)

    def restart(self) -> None:
        self.spec["restartAt"] = rfc3339(self.clock.now())
        self.generation += 1

    def undo(self, revision: int) -> None:
        """kubectl argo rollouts undo: the template of an older revision, minus the hash label."""
        ordered = sorted(self.replicasets, key=lambda r: r.revision, reverse=True)
        if revision == 0:
            if len(ordered) < 2:
                raise RolloutError(f"no rollout history found for rollout {self.name!r}")
            target = ordered[1]
        else:
            found = [r for r in ordered if r.revision == revision]
            if not found:
                raise RolloutError(f"unable to find specified revision {revision} in history")
            target = found[0]
        template = copy.deepcopy(target.template)
        if template != self.spec.get("template"):
            self.set_template(template)

    # the controller ----------------------------------------------------------------------
    def reconcile(self, policy: ImagePolicy) -> None:
        now = self.clock.seconds()
        spec, status = self.spec, self.status
        replicas = int(spec.get("replicas", 1))
        bg = (spec.get("strategy") or {}).get("blueGreen") or {}
        template = spec.get("template") or {}
        current = pod_template_hash(template)
        new_rs = self._rs(current)
        top = max((r.revision for r in self.replicasets), default=0)
        if new_rs is None:
            new_rs = ReplicaSet(
                name=f"{self.name}-{current}",
                hash=current,
                uid=new_uid(),
                created=now,
                template=copy.deepcopy(template),
                revision=top + 1,
            )
            self.replicasets.append(new_rs)
        elif new_rs.revision != top and status.get("currentPodHash") != current:
            new_rs.revision = top + 1  # an old template comes back under a new revision
        if status.get("currentPodHash") != current:
            self._reset_for_new_template(new_rs, now)
        status["currentPodHash"] = current
        status["observedGeneration"] = str(self.generation)
        blue_green = status.setdefault("blueGreen", {})
        stable = status.get("stableRS")

        if spec.get("paused"):  # a manual pause: nothing moves until it is lifted
            for rs in self.replicasets:
                rs.refresh_failing(policy)
            self._counts(new_rs, now)
            self._phase()
            return
        if not status.get("abort") and status.get("abortedAt"):
            self._retried(new_rs, now)  # before the pause below: it must keep controllerPause
        if not stable:
            self._first_revision(new_rs, replicas, now, policy)
        elif status.get("abort") and current != stable:
            self._aborted(new_rs, stable, replicas, bg, now)
        elif current == stable:
            new_rs.replicas = replicas
            new_rs.annotations.pop(SCALE_DOWN_DEADLINE, None)
            blue_green["activeSelector"] = blue_green["previewSelector"] = current
            self._progress_since = now
        else:
            self._update(new_rs, replicas, bg, now, policy)
        self._restart(now)
        self._scale_down_others(new_rs, now)
        for rs in self.replicasets:
            rs.refresh_failing(policy)
            rs.scale(now, policy)
        self._history_limit()
        self._counts(new_rs, now)
        self._completion()
        self._phase()

    def _completion(self) -> None:
        """calculateRolloutConditions: Completed while stableRS == currentPodHash; Healthy while
        not paused and RolloutHealthy (all replicas updated and available, both Services on the
        desired ReplicaSet); both False during an update."""
        status, spec = self.status, self.spec
        current = status.get("currentPodHash")
        completed = bool(status.get("stableRS")) and status.get("stableRS") == current
        state = "True" if completed else "False"
        self._condition("Completed", state, "RolloutCompleted", "RolloutCompleted")
        replicas = int(spec.get("replicas", 1))
        selectors = status.get("blueGreen") or {}
        has_preview = bool(
            ((spec.get("strategy") or {}).get("blueGreen") or {}).get("previewService")
        )
        healthy = (
            not spec.get("paused")
            and not status.get("pauseConditions")
            and status.get("updatedReplicas", 0) == replicas
            and status.get("availableReplicas", 0) == replicas
            and selectors.get("activeSelector") == current
            and (not has_preview or selectors.get("previewSelector") == current)
        )
        if healthy:
            self._condition("Healthy", "True", "RolloutHealthy", "Rollout is healthy")
        elif any(c["type"] == "Healthy" for c in status.get("conditions", [])):
            self._condition("Healthy", "False", "RolloutHealthy", "Rollout is not healthy")

    def _reset_for_new_template(self, new_rs: ReplicaSet, now: float) -> None:
        """resetRolloutStatus: a pod-template change clears pause, abort and promoteFull."""
        for key in ("pauseConditions", "controllerPause", "abort", "abortedAt", "promoteFull"):
            self.status.pop(key, None)
        self.status.get("blueGreen", {}).pop("scaleUpPreviewCheckPoint", None)
        self._fast = bool(
            new_rs.replicas and new_rs.annotations.get(SCALE_DOWN_DEADLINE)
        ) or new_rs.hash == self.status.get("stableRS")
        self._progress_since = now
        self._last_available = -1
        self._condition(
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            f'ReplicaSet "{new_rs.name}" is progressing.',
        )

    def _first_revision(
        self, new_rs: ReplicaSet, replicas: int, now: float, policy: ImagePolicy
    ) -> None:
        """No stable version to protect: straight to active, no pause."""
        new_rs.replicas = replicas
        blue_green = self.status["blueGreen"]
        blue_green["activeSelector"] = blue_green["previewSelector"] = new_rs.hash
        if self._available(new_rs, now) >= replicas:
            self._promoted(new_rs, now)
        else:
            self._check_deadline(new_rs, now)

    def _update(
        self, new_rs: ReplicaSet, replicas: int, bg: dict[str, Any], now: float, policy: ImagePolicy
    ) -> None:
        status, blue_green = self.status, self.status["blueGreen"]
        stable_rs = self._rs(status["stableRS"])
        if stable_rs is not None:  # reconcileBlueGreenStableReplicaSet: on every pass
            stable_rs.replicas = replicas
            stable_rs.annotations.pop(SCALE_DOWN_DEADLINE, None)
        blue_green["previewSelector"] = new_rs.hash
        fast = self._fast
        preview_count = bg.get("previewReplicaCount")
        if fast or preview_count is None or blue_green.get("scaleUpPreviewCheckPoint"):
            new_rs.replicas = replicas
        else:
            new_rs.replicas = int(preview_count)
        if fast:
            new_rs.annotations.pop(SCALE_DOWN_DEADLINE, None)
        if self._available(new_rs, now) < new_rs.replicas:
            self._check_deadline(new_rs, now)
            return
        auto = bg.get("autoPromotionEnabled", True) is not False
        auto_seconds = int(bg.get("autoPromotionSeconds") or 0)
        if status.get("promoteFull"):
            status.pop("pauseConditions", None)  # full promotion skips and clears the pause
        if (not auto or auto_seconds > 0) and not fast and not status.get("promoteFull"):
            if not status.get("controllerPause"):
                status["pauseConditions"] = [
                    {"reason": "BlueGreenPause", "startTime": rfc3339(self.clock.at(now))}
                ]
                status["controllerPause"] = True
                self._condition("Paused", "True", "RolloutPaused", "Rollout is paused")
                self._condition("Progressing", "Unknown", "RolloutPaused", "Rollout is paused")
                return
            pauses = status.get("pauseConditions") or []
            if pauses:
                started = parse_rfc3339(pauses[0]["startTime"])
                if (
                    auto
                    and auto_seconds
                    and self.clock.now() >= started + timedelta(seconds=auto_seconds)
                ):
                    status.pop("pauseConditions")
                else:
                    return
        self._condition("Paused", "False", "RolloutResumed", "Rollout is resumed")
        if new_rs.replicas < replicas:
            blue_green["scaleUpPreviewCheckPoint"] = True
            new_rs.replicas = replicas
            return
        if self._available(new_rs, now) < replicas:
            self._check_deadline(new_rs, now)
            return
        old = self._rs(blue_green.get("activeSelector", ""))
        if old is not None and old is not new_rs and old.replicas:
            delay = int(bg.get("scaleDownDelaySeconds", 30))
            deadline = self.clock.at(now + delay)
            old.annotations[SCALE_DOWN_DEADLINE] = rfc3339(deadline)
        blue_green["activeSelector"] = new_rs.hash
        self._promoted(new_rs, now)

    def _promoted(self, new_rs: ReplicaSet, now: float) -> None:
        status = self.status
        status["stableRS"] = new_rs.hash
        for key in ("controllerPause", "promoteFull", "pauseConditions"):
            status.pop(key, None)
        status["blueGreen"].pop("scaleUpPreviewCheckPoint", None)
        self._fast = False
        self._condition(
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{new_rs.name}" has successfully progressed.',
        )
        self._condition("Available", "True", "AvailableReason", "Rollout has minimum availability")

    def _aborted(
        self, new_rs: ReplicaSet, stable: str, replicas: int, bg: dict[str, Any], now: float
    ) -> None:
        status, blue_green = self.status, self.status["blueGreen"]
        if not status.get("abortedAt"):
            status["abortedAt"] = rfc3339(self.clock.at(now))
        for key in ("pauseConditions", "controllerPause", "promoteFull"):
            status.pop(key, None)
        blue_green["activeSelector"] = stable
        blue_green["previewSelector"] = new_rs.hash
        stable_rs = self._rs(stable)
        if stable_rs is not None:
            stable_rs.replicas = replicas
            stable_rs.annotations.pop(SCALE_DOWN_DEADLINE, None)
        delay = int(bg.get("abortScaleDownDelaySeconds", 30))
        if delay > 0:  # 0 means never scale the aborted preview down
            aborted_at = parse_rfc3339(status["abortedAt"])
            deadline = new_rs.annotations.setdefault(
                SCALE_DOWN_DEADLINE,
                rfc3339(aborted_at + timedelta(seconds=delay)),
            )
            if self.clock.now() >= parse_rfc3339(deadline):
                new_rs.replicas = 0
        message = f"Rollout aborted update to revision {new_rs.revision}"
        self._condition("Progressing", "False", "RolloutAborted", message)
        self._condition("Paused", "False", "RolloutResumed", "Rollout is resumed")

    def _retried(self, new_rs: ReplicaSet, now: float) -> None:
        self.status.pop("abortedAt", None)
        new_rs.annotations.pop(SCALE_DOWN_DEADLINE, None)
        self._progress_since = now
        self._condition("Progressing", "True", "RolloutRetry", "Retrying Rollout after abort")

    def _restart(self, now: float) -> None:
        restart_at = self.spec.get("restartAt")
        if not restart_at or self.status.get("restartedAt") == restart_at:
            return
        moment = parse_rfc3339(restart_at).timestamp() - self.clock.at(0).timestamp()
        for rs in self.replicasets:
            old = [p for p in rs.pods if p.created < moment]
            if not old:
                continue
            if rs.available(now, self.timing) < len(rs.pods):
                return  # one pod at a time, like the controller's maxUnavailable handling
            rs.pods.remove(old[0])
            return
        self.status["restartedAt"] = restart_at

    def _scale_down_others(self, new_rs: ReplicaSet, now: float) -> None:
        keep = {
            new_rs.hash,
            self.status.get("stableRS"),
            self.status["blueGreen"].get("activeSelector"),
        }
        for rs in self.replicasets:
            if rs.hash in keep:
                continue
            deadline = rs.annotations.get(SCALE_DOWN_DEADLINE)
            if rs.replicas and deadline and self.clock.now() < parse_rfc3339(deadline):
                continue
            rs.replicas = 0
            rs.annotations.pop(SCALE_DOWN_DEADLINE, None)

    def _history_limit(self) -> None:
        limit = int(self.spec.get("revisionHistoryLimit", 10))
        keep = {self.status.get("currentPodHash"), self.status.get("stableRS")}
        old = [r for r in self.replicasets if r.hash not in keep and not r.replicas]
        old.sort(key=lambda r: r.revision)
        for rs in old[: max(0, len(old) - limit)]:
            self.replicasets.remove(rs)

    def _check_deadline(self, new_rs: ReplicaSet, now: float) -> None:
        available = self._available(new_rs, now)
        if available != self._last_available:
            self._last_available = available
            self._progress_since = now
        deadline = int(self.spec.get("progressDeadlineSeconds", 600))
        if now - self._progress_since > deadline:
            self._condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{new_rs.name}" has timed out progressing.',
            )

    def _available(self, rs: ReplicaSet, now: float) -> int:
        return rs.available(now, self.timing)

    def _counts(self, new_rs: ReplicaSet, now: float) -> None:
        status = self.status
        active = self._rs(status["blueGreen"].get("activeSelector", ""))
        total = sum(len(r.pods) for r in self.replicasets)
        values = {
            "replicas": total,
            "updatedReplicas": len(new_rs.pods),
            "readyReplicas": self._available(active, now) if active else 0,
            "availableReplicas": self._available(active, now) if active else 0,
            "HPAReplicas": self._available(active, now) if active else 0,
        }
        for key, value in values.items():
            if value:
                status[key] = value
            else:
                status.pop(key, None)
        # syncRolloutStatusBlueGreen: the active ReplicaSet's selector (the Rollout's own
        # selector plus the hash label), the Rollout's selector while nothing is active yet
        labels = dict((self.spec.get("selector") or {}).get("matchLabels") or {})
        if active is not None:
            labels[HASH_LABEL] = active.hash
        status["selector"] = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    def _phase(self) -> None:
        phase, message = calculate_phase(self.spec, self.status)
        self.status["phase"] = phase
        if message:
            self.status["message"] = message
        else:
            self.status.pop("message", None)

    def _condition(self, kind: str, state: str, reason: str, message: str) -> None:
        set_condition(self.status, kind, state, reason, message, rfc3339(self.clock.now()))

    def _rs(self, pod_hash: str) -> ReplicaSet | None:
        return next((r for r in self.replicasets if r.hash == pod_hash), None)

    # views -------------------------------------------------------------------------------
    def revision(self) -> int:
        rs = self._rs(self.status.get("currentPodHash", ""))
        return rs.revision if rs else 0

    def to_object(self, resource_version: str) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "generation": self.generation,
            "resourceVersion": resource_version,
            "creationTimestamp": rfc3339(self.clock.at(self.created)),
            "annotations": {REVISION: str(self.revision())},
        }
        if self.labels:
            meta["labels"] = self.labels
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": meta,
            "spec": copy.deepcopy(self.spec),
            "status": copy.deepcopy(self.status),
        }

    def selected(self, service: str) -> ReplicaSet | None:
        """The ReplicaSet a Service named in the strategy currently selects."""
        bg = (self.spec.get("strategy") or {}).get("blueGreen") or {}
        selectors = self.status.get("blueGreen") or {}
        if service == bg.get("activeService"):
            return self._rs(selectors.get("activeSelector", ""))
        if service == bg.get("previewService"):
            return self._rs(selectors.get("previewSelector", ""))
        return None


__all__ = ["HASH_LABEL", "Rollout", "RolloutError"]
