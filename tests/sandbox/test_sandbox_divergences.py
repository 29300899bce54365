"""Where the sandbox's blue-green controller behaved unlike argo-rollouts' (issue 12), measured
against ``rollout/*.go`` at 9f8d111d8: each test here failed on the sandbox before its fix.
Driven only through public APIs (git push, Argo CD, the dashboard, the control API's clock)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scenario import Scenario, stepped_sandbox, web

from gitops_release.sandbox.server import Sandbox


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with stepped_sandbox(tmp_path) as sandbox:
        yield sandbox


def test_retry_sets_the_pause_and_controller_pause_together(sb: Sandbox, tmp_path: Path) -> None:
    """rollout/pause.go CalculatePauseConditions writes a new pause condition and
    ``controllerPause: true`` in one status patch. The sandbox cleared controllerPause right
    after re-pausing a retried rollout, so a promote landing then was undone (paused again)."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False, abortScaleDownDelaySeconds=0))
    s.healthy_rollout().update_spec().wait_for_status("Paused")
    s.abort()
    s.wait_for_status("Degraded")

    seen = [s.retry()["status"]]
    seen.append(s.wait_for(lambda: _paused(s), "paused again"))
    for status in seen:
        if status.get("pauseConditions"):
            assert status.get("controllerPause") is True, status
    s.promote()
    s.wait_for_status("Healthy", 30)
    assert s.selector_revision("active") == 2


def _paused(s: Scenario) -> dict[str, object] | None:
    status = s.rollout()["status"]
    return status if status.get("pauseConditions") else None


def test_scaling_while_paused_rescales_the_active_replicaset_too(
    sb: Sandbox, tmp_path: Path
) -> None:
    """rollout/bluegreen.go reconcileBlueGreenStableReplicaSet scales the stable ReplicaSet to
    spec.replicas on every pass (upstream unit test TestBlueGreenRolloutScaleUpdateActiveRS).
    The sandbox rescaled only the preview of a paused rollout: production kept 1 pod of 2."""
    s = Scenario(sb, tmp_path, web(replicas=1, autoPromotionEnabled=False))
    s.healthy_rollout().update_spec().wait_for_status("Paused")
    s.patch_spec({"spec": {"replicas": 2}})
    s.wait_for(
        lambda: [s.replica_set(r).get("available") for r in (1, 2)] == [2, 2],
        "both revisions at 2 available pods",
        60,
    )
    assert s.info()["status"] == "Paused" and s.selector_revision("active") == 1
    assert s.replica_counts() == (2, 4, 2, 2, 2)
    s.promote()
    s.wait_for_status("Healthy", 60)
    assert s.selector_revision("active") == 2 and s.revision_pod_count(2) == 2


def test_dashboard_promote_of_a_manually_paused_rollout_unpauses_it(
    sb: Sandbox, tmp_path: Path
) -> None:
    """pkg/kubectl-argo-rollouts/cmd/promote/promote.go getPatches: a (non-full) promote sends
    the status patch clearing pauseConditions *and* the spec patch ``paused: false``. The
    sandbox did one or the other, so a rollout paused by the Argo CD ``pause`` action during its
    BlueGreenPause stayed paused after a dashboard promote."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False))
    s.healthy_rollout().update_spec().wait_for_status("Paused")
    query = "namespace=default&resourceName=web&group=argoproj.io&kind=Rollout&version=v1alpha1"
    status, _ = s.api.call(
        "POST", f"/api/v1/applications/{s.app}/resource/actions?{query}", raw=b'"pause"'
    )
    assert status == 200
    s.advance()
    assert (s.info()["status"], s.info()["message"]) == ("Paused", "manually paused")
    promoted = s.promote()
    assert not promoted["spec"].get("paused")
    assert not promoted["status"].get("pauseConditions")
    s.wait_for_status("Healthy", 60)
    assert s.selector_revision("active") == 2


def test_healthy_and_completed_are_false_until_the_update_completes(
    sb: Sandbox, tmp_path: Path
) -> None:
    """rollout/sync.go calculateRolloutConditions: ``Healthy`` is True only while the rollout is
    healthy and not paused, ``Completed`` only while stableRS == currentPodHash (upstream e2e
    TestKubectlWaitForCompleted, unit test TestBlueGreenRolloutCompletedFalse). The sandbox
    left both True from the last release through the whole next update."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False))
    s.healthy_rollout()
    assert (s.condition("Healthy"), s.condition("Completed")) == ("True", "True")
    s.update_spec()
    s.wait_for(
        lambda: (s.condition("Healthy"), s.condition("Completed")) == ("False", "False"),
        "kubectl wait --for=condition=Healthy=False",
        10,
    )
    assert s.info()["status"] == "Progressing" and s.selector_revision("active") == 1
    s.wait_for_status("Paused")
    assert (s.condition("Healthy"), s.condition("Completed")) == ("False", "False")
    s.promote()
    s.wait_for_status("Healthy", 60)
    assert (s.condition("Healthy"), s.condition("Completed")) == ("True", "True")
    completed = [c for c in s.rollout()["status"]["conditions"] if c["type"] == "Completed"]
    assert (completed[0]["reason"], completed[0]["message"]) == (
        "RolloutCompleted",
        "RolloutCompleted",
    )


def test_status_selector_names_the_active_replicaset(sb: Sandbox, tmp_path: Path) -> None:
    """rollout/bluegreen.go syncRolloutStatusBlueGreen: ``status.selector`` is the active
    ReplicaSet's selector, hash label included (HPAs scale by it; unit test
    TestBlueGreenRolloutStatusHPAStatusFieldsActiveSelectorSet). The sandbox served the
    Rollout's own selector, so an HPA would have counted the preview's pods too."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False))
    s.healthy_rollout()
    v1 = s.rollout()["status"]["currentPodHash"]
    assert s.rollout()["status"]["selector"] == f"app=web,rollouts-pod-template-hash={v1}"
    s.update_spec().wait_for_status("Paused")
    assert s.rollout()["status"]["selector"] == f"app=web,rollouts-pod-template-hash={v1}"
    s.promote()
    s.wait_for_status("Healthy", 60)
    v2 = s.rollout()["status"]["currentPodHash"]
    assert v2 != v1
    assert s.rollout()["status"]["selector"] == f"app=web,rollouts-pod-template-hash={v2}"
