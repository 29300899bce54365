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
