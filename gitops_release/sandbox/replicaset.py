"""ReplicaSets and Pods owned by a sandbox Rollout: scaling, readiness and their Kubernetes JSON."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitops_release.sandbox.clock import Clock, rfc3339
from gitops_release.sandbox.kube import new_uid, random_suffix

REVISION = "rollout.argoproj.io/revision"
SCALE_DOWN_DEADLINE = "argo-rollouts.argoproj.io/scale-down-deadline"
HASH_LABEL = "rollouts-pod-template-hash"

# How an image misbehaves: "never-ready" (CrashLoopBackOff), "pull-error" (ImagePullBackOff)
# or "http-500" (ready, answers 500).
ImagePolicy = Callable[[str], str | None]


@dataclass
class Timing:
    """Controller-time durations of the simulated kubelet."""

    pod_start: float = 1.0  # ContainerCreating -> Running
    pod_ready: float = 4.0  # Running -> ready (readiness probe)
    crash_backoff: float = 10.0  # restart interval of a failing container


@dataclass
class Pod:
    name: str
    uid: str
    created: float
    image: str
    container: str
    failing: str | None = None

    def state(self, now: float, timing: Timing) -> tuple[str, bool, int]:
        """(status shown by kubectl, ready, restarts)."""
        age = now - self.created
        if age < timing.pod_start:
            return "ContainerCreating", False, 0
        if self.failing == "pull-error":  # a tag that does not exist
            return (
                (
                    "ErrImagePull"
                    if age < timing.pod_start + timing.pod_ready
                    else "ImagePullBackOff"
                ),
                False,
                0,
            )
        if self.failing == "never-ready":
            restarts = int((age - timing.pod_start) // timing.crash_backoff)
            return ("CrashLoopBackOff" if restarts else "Running"), False, restarts
        return "Running", age >= timing.pod_start + timing.pod_ready, 0


@dataclass
class ReplicaSet:
    name: str
    hash: str
    uid: str
    created: float
    template: dict[str, Any]
    revision: int
    replicas: int = 0
    pods: list[Pod] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def containers(self) -> list[dict[str, Any]]:
        return list((self.template.get("spec") or {}).get("containers") or [])

    @property
    def images(self) -> list[str]:
        return [str(c.get("image", "")) for c in self.containers]

    def ready_pods(self, now: float, timing: Timing) -> list[Pod]:
        return [p for p in self.pods if p.state(now, timing)[1]]

    def available(self, now: float, timing: Timing) -> int:
        return len(self.ready_pods(now, timing))

    def scale(self, now: float, policy: ImagePolicy) -> None:
        """Create or delete pods to match ``replicas`` (newest deleted first)."""
        while len(self.pods) > self.replicas:
            self.pods.pop()
        container = self.containers[0] if self.containers else {"name": "app", "image": ""}
        while len(self.pods) < self.replicas:
            image = str(container.get("image", ""))
            self.pods.append(
                Pod(
                    name=f"{self.name}-{random_suffix()}",
                    uid=new_uid(),
                    created=now,
                    image=image,
                    container=str(container.get("name", "app")),
                    failing=policy(image),
                )
            )

    def refresh_failing(self, policy: ImagePolicy) -> None:
        for pod in self.pods:
            pod.failing = policy(pod.image)

    # Kubernetes JSON ---------------------------------------------------------------------
    def labels(self) -> dict[str, str]:
        labels = dict((self.template.get("metadata") or {}).get("labels") or {})
        labels[HASH_LABEL] = self.hash
        return labels

    def to_object(
        self, rollout: dict[str, Any], now: float, clock: Clock, timing: Timing
    ) -> dict[str, Any]:
        meta = rollout["metadata"]
        template = copy.deepcopy(self.template)
        template.setdefault("metadata", {})["labels"] = self.labels()
        ready = self.available(now, timing)
        annotations = {REVISION: str(self.revision), **self.annotations}
        annotations["rollout.argoproj.io/desired-replicas"] = str(
            rollout["spec"].get("replicas", 1)
        )
        status: dict[str, Any] = {"replicas": len(self.pods), "observedGeneration": 1}
        if ready:
            status.update(readyReplicas=ready, availableReplicas=ready)
        if self.pods:
            status["fullyLabeledReplicas"] = len(self.pods)
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": self.name,
                "namespace": meta["namespace"],
                "uid": self.uid,
                "generation": 1,
                "creationTimestamp": rfc3339(clock.at(self.created)),
                "labels": self.labels(),
                "annotations": annotations,
                "ownerReferences": [_owner("argoproj.io/v1alpha1", "Rollout", meta)],
            },
            "spec": {
                "replicas": self.replicas,
                "selector": {"matchLabels": self.labels()},
                "template": template,
            },
            "status": status,
        }

    def pod_objects(
        self, namespace: str, now: float, clock: Clock, timing: Timing
    ) -> list[dict[str, Any]]:
        owner = {"name": self.name, "uid": self.uid}
        result = []
        for pod in self.pods:
            shown, ready, restarts = pod.state(now, timing)
            started = rfc3339(clock.at(pod.created))
            if shown == "Running":
                state: dict[str, Any] = {"running": {"startedAt": started}}
            else:
                state = {"waiting": {"reason": shown}}
            container_status: dict[str, Any] = {
                "name": pod.container,
                "image": pod.image,
                "ready": ready,
                "restartCount": restarts,
                "started": shown == "Running",
                "state": state,
            }
            result.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": pod.name,
                        "namespace": namespace,
                        "uid": pod.uid,
                        "creationTimestamp": started,
                        "labels": self.labels(),
                        "ownerReferences": [_owner("apps/v1", "ReplicaSet", owner)],
                    },
                    "spec": {"containers": [{"name": pod.container, "image": pod.image}]},
                    "status": {
                        "phase": "Pending" if shown == "ContainerCreating" else "Running",
                        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                        "containerStatuses": [container_status],
                        "startTime": started,
                    },
                }
            )
        return result


def _owner(api_version: str, kind: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
