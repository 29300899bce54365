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


def test_blue_green_update(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenUpdate (functional/rollout-bluegreen.yaml): with auto-promotion an update
    goes Progressing, revision 2 becomes active with both stacks up (current 6), and stays so
    once Healthy (scaleDownDelaySeconds 10)."""
    spec = """  replicas: 3
  strategy:
    blueGreen:
      activeService: bluegreen
      scaleDownDelaySeconds: 10"""
    s = Scenario(
        sb, tmp_path, service("bluegreen", "bluegreen") + rollout("bluegreen", "bluegreen", spec)
    )
    s.healthy_rollout()
    assert s.replica_counts() == (3, 3, 3, 3, 3)
    s.update_spec().wait_for_status("Progressing")
    s.wait_for(lambda: s.selector_revision("active") == 2, "active revision 2")
    assert s.replica_counts() == (3, 6, 3, 3, 3)
    s.wait_for_status("Healthy")
    assert s.replica_counts() == (3, 6, 3, 3, 3)


def test_blue_green_scale_down_on_abort(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenScaleDownOnAbort: an aborted preview is scaled to zero once
    abortScaleDownDelaySeconds (1) have passed."""
    spec = """  replicas: 2
  strategy:
    blueGreen:
      abortScaleDownDelaySeconds: 1
      activeService: bluegreen-preview-replicas-active
      previewService: bluegreen-preview-replicas-preview
      previewReplicaCount: 1
      scaleDownDelaySeconds: 5
      autoPromotionEnabled: false"""
    app = "bluegreen-preview-replicas"
    objects = (
        service(f"{app}-active", app)
        + service(f"{app}-preview", app)
        + rollout("bluegreen-scaledown-on-abort", app, spec)
    )
    s = Scenario(sb, tmp_path, objects).apply_manifests()
    s.wait_for_status("Healthy").update_spec().wait_for_status("Paused")
    assert (s.revision_pod_count(2), s.revision_pod_count(1)) == (1, 2)
    s.abort()
    s.wait_for_status("Degraded")
    s.advance(3)
    assert s.revision_pod_count(2) == 0


KUBECTL_WAIT = """
kind: Service
apiVersion: v1
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{protocol: TCP, port: 80, targetPort: 80}}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: {name}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: {name}
        image: nginx:1.19-alpine
        imagePullPolicy: Always
        ports: [{{containerPort: 80}}]
{probe}
  strategy:
    blueGreen:
      activeService: {name}
      autoPromotionEnabled: {auto}
"""


def test_kubectl_wait_for_paused(sb: Sandbox, tmp_path: Path) -> None:
    """TestKubectlWaitForPaused: an update sets condition Paused=True (status Paused, revision 1
    active); promoted, Paused=False, status Healthy, revision 2 active."""
    objects = KUBECTL_WAIT.format(name="kubectl-wait-paused", probe="", auto="false")
    s = Scenario(sb, tmp_path, objects).healthy_rollout()
    s.update_spec()
    s.wait_for(lambda: s.condition("Paused") == "True", "kubectl wait --for=condition=Paused")
    assert s.info()["status"] == "Paused" and s.selector_revision("active") == 1
    s.promote()
    s.wait_for(lambda: s.condition("Paused") == "False", "--for=condition=Paused=False")
    s.wait_for_status("Healthy")
    assert s.selector_revision("active") == 2


def test_kubectl_wait_for_completed(sb: Sandbox, tmp_path: Path) -> None:
    """TestKubectlWaitForCompleted: during an auto-promoted update the Healthy condition is
    False (status Progressing, revision 1 still active), then True with revision 2 active."""
    probe = """        readinessProbe:
          initialDelaySeconds: 5
          httpGet: {path: /, port: 80}
          periodSeconds: 10"""
    objects = KUBECTL_WAIT.format(name="kubectl-wait-healthy", probe=probe, auto="true")
    s = Scenario(sb, tmp_path, objects).healthy_rollout()
    s.update_spec()
    s.wait_for(lambda: s.condition("Healthy") == "False", "--for=condition=Healthy=False")
    assert s.info()["status"] == "Progressing" and s.selector_revision("active") == 1
    s.wait_for(lambda: s.condition("Healthy") == "True", "--for=condition=Healthy=True")
    assert s.selector_revision("active") == 2
