"""ReplicaSets and Pods owned by a sandbox Rollout: scaling, readiness, the ephemeral pod metadata
the controller injects (``activeMetadata`` / ``previewMetadata``), and their Kubernetes JSON."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitops_release.sandbox.clock import Clock, rfc3339
from gitops_release.sandbox.kube import new_uid, random_suffix

REVISION = "rollout.argoproj.io/revision"
SCALE_DOWN_DEADLINE = "argo-rollouts.argoproj.io/scale-down-deadline"
HASH_LABEL = "rollouts-pod-template-hash"
DESIRED_REPLICAS = "rollout.argoproj.io/desired-replicas"
EPHEMERAL_METADATA = "rollout.argoproj.io/ephemeral-metadata"

PULL_MESSAGES = {
    "ErrImagePull": 'failed to pull and unpack image "{0}": not found',
    "ImagePullBackOff": 'Back-off pulling image "{0}"',
}
PENDING = ("ContainerCreating", "ErrImagePull", "ImagePullBackOff")

# How an image misbehaves: "never-ready" (CrashLoopBackOff), "pull-error" (ImagePullBackOff)
# or "http-500" (ready, answers 500).
ImagePolicy = Callable[[str], str | None]


@dataclass
class Timing:
    """Controller-time durations of the simulated kubelet."""

    pod_start: float = 1.0  # ContainerCreating -> Running
    pod_ready: float = 4.0  # Running -> ready, for a container without a readinessProbe
    crash_backoff: float = 10.0  # restart interval of a failing container


@dataclass
class Pod:
    name: str
    uid: str
    created: float
    image: str
    container: str
    failing: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    probe_delays: tuple[float | None, ...] = ()  # per container: readinessProbe initialDelaySeconds

    def state(self, now: float, timing: Timing) -> tuple[str, bool, int]:
        """(status shown by kubectl, ready, restarts). A container with a readinessProbe is
        ready its initialDelaySeconds after it started, one without after ``timing.pod_ready``;
        the pod when all are."""
        age = now - self.created
        ready_after = max(
            (timing.pod_ready if d is None else d for d in self.probe_delays),
            default=timing.pod_ready,
        )
        if age < timing.pod_start:
            return "ContainerCreating", False, 0
        if self.failing == "pull-error":  # a tag that does not exist
            return (
                ("ErrImagePull" if age < timing.pod_start + ready_after else "ImagePullBackOff"),
                False,
                0,
            )
        if self.failing == "never-ready":
            restarts = int((age - timing.pod_start) // timing.crash_backoff)
            return ("CrashLoopBackOff" if restarts else "Running"), False, restarts
        return "Running", age >= timing.pod_start + ready_after, 0


@dataclass
class ReplicaSet:
    name: str
    hash: str
    uid: str
    created: float
    template: dict[str, Any]  # the Rollout's pod template, as it was (no hash, no ephemeral labels)
    revision: int
    replicas: int = 0
    pods: list[Pod] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    desired: int | None = None  # the desired-replicas annotation: spec.replicas when last scaled
    injected: dict[str, Any] | None = None  # ephemeral pod metadata (labels, annotations)

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
        """The ReplicaSet controller: create or delete pods to match ``replicas`` (newest first)."""
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
                    failing=self._failing(policy),
                    labels=self.pod_labels(),
                    annotations=self.pod_annotations(),
                    probe_delays=tuple(_probe_delay(c) for c in self.containers),
                )
            )

    def sync_ephemeral(self, desired: dict[str, Any] | None) -> None:
        """SyncReplicaSetEphemeralPodMetadata, then the same on every pod: inject the desired
        labels and annotations, remove the ones injected before that are no longer desired."""
        before = self.injected
        for pod in self.pods:
            _sync_metadata(pod.labels, pod.annotations, before, desired)
        self.injected = copy.deepcopy(desired) if desired else None

    def refresh_failing(self, policy: ImagePolicy) -> None:
        failing = self._failing(policy)
        for pod in self.pods:
            pod.failing = failing

    def _failing(self, policy: ImagePolicy) -> str | None:
        """How the pod misbehaves: as its first container whose image fails (a pod is ready
        only when all its containers are)."""
        return next((mode for image in self.images if (mode := policy(image))), None)

    # Kubernetes JSON ---------------------------------------------------------------------
    def labels(self) -> dict[str, str]:
        labels = dict((self.template.get("metadata") or {}).get("labels") or {})
        labels[HASH_LABEL] = self.hash
        return labels

    def pod_labels(self) -> dict[str, str]:
        """The template's labels as the ReplicaSet carries them: hash and injected ones too."""
        labels = self.labels()
        labels.update((self.injected or {}).get("labels") or {})
        return labels

    def pod_annotations(self) -> dict[str, str]:
        annotations = dict((self.template.get("metadata") or {}).get("annotations") or {})
        annotations.update((self.injected or {}).get("annotations") or {})
        return annotations

    def to_object(
        self, rollout: dict[str, Any], now: float, clock: Clock, timing: Timing
    ) -> dict[str, Any]:
        meta = rollout["metadata"]
        template = copy.deepcopy(self.template)
        template.setdefault("metadata", {})["labels"] = self.pod_labels()
        if self.pod_annotations():
            template["metadata"]["annotations"] = self.pod_annotations()
        ready = self.available(now, timing)
        annotations = {REVISION: str(self.revision), **self.annotations}
        if self.desired is not None:
            annotations[DESIRED_REPLICAS] = str(self.desired)
        if self.injected is not None:
            annotations[EPHEMERAL_METADATA] = json.dumps(self.injected, separators=(",", ":"))
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
                "selector": {"matchLabels": self.selector()},
                "template": template,
            },
            "status": status,
        }

    def selector(self) -> dict[str, str]:
        """The Rollout's selector plus the hash label (CloneSelectorAndAddLabel)."""
        return self.labels()

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
                if shown in PULL_MESSAGES:  # the kubelet's words (kuberuntime_image.go)
                    state["waiting"]["message"] = PULL_MESSAGES[shown].format(pod.image)
            container_status: dict[str, Any] = {
                "name": pod.container,
                "image": pod.image,
                "ready": ready,
                "restartCount": restarts,
                "started": shown == "Running",
                "state": state,
            }
            metadata: dict[str, Any] = {
                "name": pod.name,
                "namespace": namespace,
                "uid": pod.uid,
                "creationTimestamp": started,
                "labels": dict(pod.labels),
                "ownerReferences": [_owner("apps/v1", "ReplicaSet", owner)],
            }
            if pod.annotations:
                metadata["annotations"] = dict(pod.annotations)
            result.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": metadata,
                    "spec": {"containers": [{"name": pod.container, "image": pod.image}]},
                    "status": {
                        # no container started yet: still Pending (a pull that fails, too)
                        "phase": "Pending" if shown in PENDING else "Running",
                        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                        "containerStatuses": [container_status],
                        "startTime": started,
                    },
                }
            )
        return result


def _probe_delay(container: dict[str, Any]) -> float | None:
    probe = container.get("readinessProbe")
    return float(probe.get("initialDelaySeconds") or 0) if isinstance(probe, dict) else None


def _sync_metadata(
    labels: dict[str, str],
    annotations: dict[str, str],
    existing: dict[str, Any] | None,
    desired: dict[str, Any] | None,
) -> None:
    """SyncEphemeralPodMetadata: only keys the controller injected are ever removed."""
    for target, kind in ((labels, "labels"), (annotations, "annotations")):
        wanted = (desired or {}).get(kind) or {}
        target.update(wanted)
        for key in (existing or {}).get(kind) or {}:
            if key not in wanted:
                target.pop(key, None)


def _owner(api_version: str, kind: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
