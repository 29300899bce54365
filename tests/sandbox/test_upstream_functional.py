"""The blue-green scenarios of argo-rollouts ``test/e2e/functional_test.go`` (at 9f8d111d8),
ported to the sandbox: same objects, same steps, same expectations, driven through Git, Argo CD,
the Rollouts dashboard and the control API's clock (``scenario.py``). Kubernetes events are
not asserted: the sandbox serves no events API. Which upstream scenarios are not ported, and
why, is in ``tests/sandbox/README.md``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scenario import Scenario, stepped_sandbox

from gitops_release.sandbox.server import Sandbox


def service(name: str, app: str) -> str:
    """analysis_test.go newService: a ClusterIP Service selecting ``app``."""
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  ports: [{{port: 80, targetPort: http, protocol: TCP, name: http}}]
  selector: {{app: {app}}}
---
"""


def rollout(name: str, app: str, spec: str) -> str:
    """A Rollout of nginx:1.19-alpine labelled ``app``, with the given (indented) spec lines."""
    return f"""
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: {name}}}
spec:
{spec}
  selector:
    matchLabels: {{app: {app}}}
  template:
    metadata:
      labels: {{app: {app}}}
    spec:
      containers:
      - name: {app}
        image: nginx:1.19-alpine
        resources:
          requests: {{memory: 16Mi, cpu: 1m}}
"""


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with stepped_sandbox(tmp_path) as sandbox:
        yield sandbox


def test_blue_green_scale_down_delay(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenScaleDownDelay: with a one-day scaleDownDelaySeconds and
    scaleDownDelayRevisionLimit 2, only the two newest old ReplicaSets keep their pods; lowering
    the limit to 1 scales the next one down."""
    name = "bluegreen-scaledowndelay"
    spec = """  replicas: 1
  strategy:
    blueGreen:
      activeService: bluegreen-scaledowndelay-active
      scaleDownDelaySeconds: 86400
      scaleDownDelayRevisionLimit: 2"""
    s = Scenario(
        sb, tmp_path, service(f"{name}-active", name) + rollout(name, name, spec)
    ).apply_manifests()
    s.wait_for_status("Healthy")
    s.update_spec().wait_for_status("Progressing").wait_for_status("Healthy")
    assert (s.revision_pod_count(2), s.revision_pod_count(1)) == (1, 1)
    assert s.replica_counts() == (1, 2, 1, 1, 1)
    s.update_spec().wait_for_status("Progressing").wait_for_status("Healthy")
    s.update_spec().wait_for_status("Progressing").wait_for_status("Healthy")
    s.advance(1)
    assert [s.revision_pod_count(r) for r in (4, 3, 2, 1)] == [1, 1, 1, 0]
    assert s.replica_counts() == (1, 3, 1, 1, 1)
    s.patch_spec({"spec": {"strategy": {"blueGreen": {"scaleDownDelayRevisionLimit": 1}}}})
    s.advance(1)
    assert [s.revision_pod_count(r) for r in (4, 3, 2, 1)] == [1, 1, 0, 0]
    assert s.replica_counts() == (1, 2, 1, 1, 1)


def test_blue_green_exceed_progress_deadline_abort(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenExceedProgressDeadlineAbort: an update that never gets ready goes Degraded
    but is not aborted while progressDeadlineAbort is false (its pod stays); set to true, the
    rollout aborts itself and the preview is scaled down after abortScaleDownDelaySeconds, with
    four conditions (Available, Progressing, Healthy, Completed)."""
    name = "bluegreen-scaledowndelay"
    spec = """  replicas: 1
  strategy:
    blueGreen:
      activeService: bluegreen-scaledowndelay-active
      abortScaleDownDelaySeconds: 2"""
    s = Scenario(
        sb, tmp_path, service("bluegreen-scaledowndelay-active", name) + rollout(name, name, spec)
    )
    s.fail_image("nginx:1.19-alpine-argo-error", "pull-error")  # a tag that does not exist
    s.apply_manifests().wait_for_status("Healthy")
    bad = {
        "spec": {
            "progressDeadlineAbort": False,
            "progressDeadlineSeconds": 1,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "bad2good",
                            "image": "nginx:1.19-alpine-argo-error",
                            "command": None,
                        }
                    ]
                }
            },
        }
    }
    s.patch_spec(bad).wait_for_status("Degraded")
    s.advance(3)
    assert s.revision_pod_count(2) == 1
    assert not s.rollout()["status"].get("abort")
    bad["spec"]["progressDeadlineAbort"] = True
    s.patch_spec(bad).wait_for_status("Degraded")
    s.advance(3)
    assert s.revision_pod_count(2) == 0
    status = s.rollout()["status"]
    assert status.get("abort") is True and len(status["conditions"]) == 4, status
    rs = s.replica_set(2)["objectMeta"]["name"]
    assert status["message"] == (
        f'RolloutAborted: Rollout aborted update to revision 2: ReplicaSet "{rs}" has timed out'
        " progressing."
    )
