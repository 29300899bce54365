"""A blue-green Rollout: its spec and status, its ReplicaSets, the hash each of its Services
selects, and what users do to it (apply, promote, abort, retry, restart, undo).

The controller itself is :mod:`gitops_release.sandbox.bluegreen` (one reconcile pass, ported
from argo-rollouts' ``rollout/`` package). :meth:`Rollout.reconcile` depends only on the state
and the controller time, so a test can drive it with a clock it controls.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from gitops_release.sandbox.bluegreen import Pass
from gitops_release.sandbox.clock import Clock, rfc3339
from gitops_release.sandbox.kube import new_uid, pod_template_hash
from gitops_release.sandbox.replicaset import HASH_LABEL, REVISION, ImagePolicy, ReplicaSet, Timing


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
        # the rollouts-pod-template-hash the controller set on each Service ("active",
        # "preview"); a Service the controller has not switched yet selects by its own labels
        self.services: dict[str, str] = {}
        # the AnalysisRuns this Rollout owns, by name (rolloutanalysis.py), and how the
        # controller finds an (Cluster)AnalysisTemplate: (kind, namespace, name) -> manifest
        self.analysis_runs: dict[str, dict[str, Any]] = {}
        self.templates: Callable[[str, str, str], dict[str, Any] | None] = lambda k, ns, n: None

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
        """One pass of the Rollouts controller (pods created or deleted to match each ReplicaSet,
        failing images applied, before it writes the status)."""
        Pass(self, policy).run()
        self.run_replicasets(policy)

    def run_replicasets(self, policy: ImagePolicy) -> None:
        """The ReplicaSet controller and the kubelet, at once: the pass reads the pods its own
        scaling made (upstream sees them an event later; the end state is the same)."""
        now = self.clock.seconds()
        for rs in self.replicasets:
            rs.refresh_failing(policy)
            rs.scale(now, policy)

    def replicaset(self, pod_hash: str) -> ReplicaSet | None:
        return next((r for r in self.replicasets if r.hash == pod_hash), None) if pod_hash else None

    # views -------------------------------------------------------------------------------
    def revision(self) -> int:
        rs = self.replicaset(pod_template_hash(self.spec.get("template") or {}))
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

    def service_hash(self, service: str) -> str | None:
        """The hash label the controller set on a Service of this Rollout ("" while it has not
        switched it yet); None when the Service is not one of this Rollout's."""
        bg = (self.spec.get("strategy") or {}).get("blueGreen") or {}
        for role in ("active", "preview"):
            if service and service == bg.get(f"{role}Service"):
                return self.services.get(role, "")
        return None

    def selected(self, service: str) -> ReplicaSet | None:
        """The ReplicaSet whose pods a Service of this Rollout sends traffic to: the one its hash
        label names, or before the controller set one, the desired ReplicaSet (the Service's
        own selector matches every pod of the Rollout; in a first deploy there are no others)."""
        pod_hash = self.service_hash(service)
        if pod_hash is None:
            return None
        return self.replicaset(pod_hash or pod_template_hash(self.spec.get("template") or {}))


__all__ = ["HASH_LABEL", "Rollout", "RolloutError"]
