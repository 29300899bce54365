"""The scenarios of argo-rollouts ``test/e2e/bluegreen_test.go`` (at 9f8d111d8), ported to the
sandbox: same objects, same steps, same expectations, driven through Git, Argo CD, the
Rollouts dashboard and the control API's clock (``scenario.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scenario import Scenario, stepped_sandbox

from gitops_release.sandbox.server import Sandbox


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with stepped_sandbox(tmp_path) as sandbox:
        yield sandbox


def _labels(pods: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [dict(p["metadata"].get("labels") or {}) for p in pods]


EPHEMERAL = """
apiVersion: v1
kind: Service
metadata: {name: ephemeral-metadata-bg}
spec:
  ports: [{port: 80, targetPort: http, protocol: TCP, name: http}]
  selector: {app: ephemeral-metadata-bg}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: ephemeral-metadata-bg}
spec:
  replicas: 2
  strategy:
    blueGreen:
      previewMetadata:
        labels: {role: preview}
      activeMetadata:
        labels: {role: active}
      activeService: ephemeral-metadata-bg
      autoPromotionEnabled: false
  selector:
    matchLabels: {app: ephemeral-metadata-bg}
  template:
    metadata:
      labels: {app: ephemeral-metadata-bg}
    spec:
      containers:
      - name: ephemeral-metadata
        image: nginx:1.19-alpine
        resources:
          requests: {memory: 16Mi, cpu: 1m}
      volumes:
      - name: cache-volume
        emptyDir: {}
"""


def test_ephemeral_metadata(sb: Sandbox, tmp_path: Path) -> None:
    """TestEphemeralMetadata: activeMetadata labels the active pods and previewMetadata the
    preview's; a changed previewMetadata relabels the running preview pods (removing what is no
    longer wanted); promotion switches the new pods to activeMetadata; a changed activeMetadata
    relabels them again."""

    def roles(pods: list[dict[str, Any]], key: str = "role") -> set[str | None]:
        return {labels.get(key) for labels in _labels(pods)}

    s = Scenario(sb, tmp_path, EPHEMERAL).apply_manifests().wait_for_replicas(2)
    assert roles(s.all_pods()) == {"active"}
    s.wait_for_status("Healthy").update_spec().wait_for_status("Paused")
    assert roles(s.revision_pods(2)) == {"preview"}
    assert roles(s.revision_pods(1)) == {"active"}
    s.patch_spec(
        {
            "spec": {
                "strategy": {
                    "blueGreen": {
                        "previewMetadata": {"labels": {"role": None, "role2": "preview2"}}
                    }
                }
            }
        }
    )
    s.advance(1)
    assert roles(s.revision_pods(2)) == {None} and roles(s.revision_pods(2), "role2") == {
        "preview2"
    }
    s.promote()
    s.wait_for_status("Healthy", 60).advance(1)
    assert roles(s.revision_pods(2)) == {"active"}
    s.patch_spec(
        {
            "spec": {
                "strategy": {
                    "blueGreen": {"activeMetadata": {"labels": {"role": None, "role2": "active2"}}}
                }
            }
        }
    )
    s.advance(2)
    assert roles(s.revision_pods(2)) == {None} and roles(s.revision_pods(2), "role2") == {"active2"}


def deadline_rollout(name: str, auto_promotion: bool) -> str:
    """The objects of TestBlueGreenProgressDeadlineExceededWith(out)Pause: a readiness probe
    that waits 10 s, longer than progressDeadlineSeconds (5)."""
    return f"""
kind: Service
apiVersion: v1
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{protocol: TCP, port: 80, targetPort: 8080}}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: {name}}}
spec:
  replicas: 1
  revisionHistoryLimit: 2
  progressDeadlineSeconds: 5
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: rollouts-demo
        image: nginx:1.19-alpine
        ports: [{{containerPort: 80}}]
        readinessProbe:
          initialDelaySeconds: 10
          httpGet: {{path: /, port: 80}}
          periodSeconds: 30
  strategy:
    blueGreen:
      autoPromotionEnabled: {str(auto_promotion).lower()}
      activeService: {name}
"""


def test_blue_green_progress_deadline_exceeded_with_pause(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenProgressDeadlineExceededWithPause: pods slower than the progress deadline
    make the rollout Degraded, then Healthy once ready; an update goes Degraded, then Paused
    once its preview is ready; promoted, revision 2 becomes active."""
    s = Scenario(sb, tmp_path, deadline_rollout("rollout-bluegreen-with-pause", False))
    s.apply_manifests().wait_for_replicas(1)
    s.wait_for_status("Degraded").wait_for_status("Healthy")
    s.update_spec().wait_for_status("Degraded").wait_for_status("Paused")
    s.promote()
    s.wait_for_status("Healthy")
    assert s.selector_revision("active") == 2


def test_blue_green_progress_deadline_exceeded_without_pause(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenProgressDeadlineExceededWithoutPause: the same with auto-promotion: the
    update goes Degraded, then Healthy on revision 2 by itself."""
    s = Scenario(sb, tmp_path, deadline_rollout("rollout-bluegreen-without-pause", True))
    s.apply_manifests().wait_for_replicas(1)
    s.wait_for_status("Degraded").wait_for_status("Healthy")
    s.update_spec().wait_for_status("Degraded").wait_for_status("Healthy")
    assert s.selector_revision("active") == 2


def preview_replicas(name: str, spec: str, preview_service: bool) -> str:
    services = f"""
apiVersion: v1
kind: Service
metadata: {{name: bluegreen-preview-replicas-active}}
spec:
  ports: [{{port: 80, targetPort: http, protocol: TCP, name: http}}]
  selector: {{app: {name}}}
---
"""
    if preview_service:
        services += services.replace("-active", "-preview")
    return (
        services
        + f"""
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: {name}}}
spec:
{spec}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: {name}
        image: nginx:1.19-alpine
        resources:
          requests: {{memory: 16Mi, cpu: 1m}}
"""
    )


def test_blue_green_preview_replica_count(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenPreviewReplicaCount: the preview runs previewReplicaCount pods while paused
    (desired 2, current 3, updated 1, ready 2, available 2); promoted, it scales to 2 and the old
    pods stay for scaleDownDelaySeconds (current 4)."""
    spec = """  replicas: 2
  strategy:
    blueGreen:
      activeService: bluegreen-preview-replicas-active
      previewService: bluegreen-preview-replicas-preview
      previewReplicaCount: 1
      scaleDownDelaySeconds: 5
      autoPromotionEnabled: false"""
    s = Scenario(sb, tmp_path, preview_replicas("bluegreen-preview-replicas", spec, True))
    s.apply_manifests().wait_for_status("Healthy").update_spec().wait_for_status("Paused")
    assert (s.revision_pod_count(2), s.revision_pod_count(1)) == (1, 2)
    assert s.replica_counts() == (2, 3, 1, 2, 2)
    s.promote()
    s.wait_for_status("Healthy")
    assert s.replica_counts() == (2, 4, 2, 2, 2)


def test_blue_green_preview_replica_count_promote_full(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenPreviewReplicaCountPromoteFull: paused longer than progressDeadlineSeconds
    is not Degraded; a full promotion scales the preview up and goes Healthy."""
    spec = """  replicas: 2
  progressDeadlineSeconds: 1
  strategy:
    blueGreen:
      activeService: bluegreen-preview-replicas-active
      previewReplicaCount: 1
      autoPromotionEnabled: false"""
    name = "bluegreen-preview-replicas-promote-full"
    s = Scenario(sb, tmp_path, preview_replicas(name, spec, False))
    s.apply_manifests().wait_for_status("Healthy").update_spec().wait_for_status("Paused")
    s.advance(2)
    assert s.info()["status"] == "Paused"
    assert s.replica_counts() == (2, 3, 1, 2, 2)
    s.promote(full=True)
    s.wait_for_status("Healthy")
    assert s.replica_counts() == (2, 4, 2, 2, 2)
