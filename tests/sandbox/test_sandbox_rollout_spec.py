"""Rollout fields the CRD has and the sandbox now models as the controller code does (issue 12),
where upstream has no blue-green e2e scenario of its own to port. Public APIs only."""

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


def test_a_superseded_preview_keeps_its_pods_for_the_scale_down_delay(
    sb: Sandbox, tmp_path: Path
) -> None:
    """rollout/bluegreen.go scaleDownOldReplicaSetsForBlueGreen: a preview replaced by a newer
    version before promotion is an old ReplicaSet like any other: it gets a scale-down deadline
    of scaleDownDelaySeconds and keeps running until then (scaleDownDelayHelper even holds it at
    spec.replicas meanwhile), so a fast rollback to it stays possible. The sandbox used to scale
    it to zero at once."""
    s = Scenario(
        sb,
        tmp_path,
        web(
            replicas=2,
            autoPromotionEnabled=False,
            previewReplicaCount=1,
            scaleDownDelaySeconds=20,
        ),
    )
    s.healthy_rollout().update_spec().wait_for_status("Paused")
    s.update_spec()
    s.wait_for(lambda: "scaleDownDeadline" in s.replica_set(2), "rev 2 scale-down deadline", 10)
    deadline_at = s.time
    assert s.revision_pod_count(2) >= 1
    s.wait_for_status("Paused")
    assert s.selector_revision("preview") == 3 and s.selector_revision("active") == 1
    assert s.replica_set(2)["replicas"] == 2  # held at spec.replicas during its delay
    s.wait_for(lambda: s.revision_pod_count(2) == 0, "rev 2 scaled down", 40)
    assert s.time - deadline_at >= 20
    assert "scaleDownDeadline" not in s.replica_set(2)


V1 = {"spec": {"template": {"metadata": {"annotations": {"update": "0"}}}}}


def _three_releases(s: Scenario, window: int) -> None:
    """v1, then v2 and v3 each promoted; the old ReplicaSets scaled down after their delay."""
    s.rollout_manifest["spec"]["rollbackWindow"] = {"revisions": window}
    s.rollout_manifest["spec"]["template"]["metadata"]["annotations"] = {"update": "0"}
    s.healthy_rollout()
    for _ in range(2):
        s.update_spec().wait_for_status("Paused")
        s.promote()
        s.wait_for_status("Healthy", 60)
    s.wait_for(lambda: s.revision_pod_count(2) == 0, "v2 scaled down", 30)


def test_a_rollback_inside_the_rollback_window_skips_the_pause(sb: Sandbox, tmp_path: Path) -> None:
    """rollout/sync.go isRollbackWithinWindow: going back to a ReplicaSet with fewer than
    spec.rollbackWindow.revisions ReplicaSets between it and the stable one is a fast rollback
    ('Rollback within window'): no BlueGreenPause, even with its pods long gone."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False, scaleDownDelaySeconds=2))
    _three_releases(s, window=2)
    assert s.revision_pod_count(1) == 0
    s.patch_spec(V1)  # Git back to v1
    phases = []

    def healthy() -> bool:
        phases.append(s.info()["status"])
        return phases[-1] == "Healthy" and s.selector_revision("active") == 4

    s.wait_for(healthy, "v1 active again", 60)
    assert "Paused" not in phases
    assert s.replica_set(4)["objectMeta"]["name"] == f"web-{s.rollout()['status']['stableRS']}"


def test_a_rollback_outside_the_rollback_window_pauses(sb: Sandbox, tmp_path: Path) -> None:
    """The same with rollbackWindow.revisions 1: v2 lies between v1 and the stable v3, so going
    back to v1 is an ordinary update (BlueGreenPause, then promote)."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False, scaleDownDelaySeconds=2))
    _three_releases(s, window=1)
    s.patch_spec(V1)
    s.wait_for_status("Paused", 60)
    assert s.selector_revision("active") == 3 and s.selector_revision("preview") == 4


def _argocd_action(s: Scenario, action: str) -> None:
    query = (
        f"namespace=default&resourceName={s.name}&group=argoproj.io&kind=Rollout&version=v1alpha1"
    )
    body = f'"{action}"'.encode()
    status, answer = s.api.call(
        "POST", f"/api/v1/applications/{s.app}/resource/actions?{query}", raw=body
    )
    assert status == 200, answer


def test_spec_paused_halts_the_services_not_the_replicasets(sb: Sandbox, tmp_path: Path) -> None:
    """rollout/context.go haltProgress: while spec.paused is true the controller neither moves
    the preview or active Service nor adds or completes a BlueGreenPause, but still scales the
    ReplicaSets: a version pushed during a manual pause starts its preview pods, and only once
    the pause is lifted does the preview Service switch to it and the BlueGreenPause begin."""
    s = Scenario(sb, tmp_path, web(replicas=2, autoPromotionEnabled=False, previewReplicaCount=1))
    s.healthy_rollout()
    _argocd_action(s, "pause")
    s.update_spec()
    s.wait_for(lambda: s.replica_set(2).get("available") == 1, "v2 preview pod ready", 30)
    s.advance(5)
    info = s.info()
    assert (info["status"], info["message"]) == ("Paused", "manually paused")
    assert s.selector_revision("preview") == 1 and s.selector_revision("active") == 1
    assert not s.rollout()["status"].get("pauseConditions")
    assert s.condition("Paused") == "True"
    _argocd_action(s, "resume")
    s.wait_for_status("Paused", 30)
    assert s.info()["message"] == "BlueGreenPause"
    assert s.selector_revision("preview") == 2 and s.selector_revision("active") == 1


def test_spec_paused_stops_auto_promotion_seconds(sb: Sandbox, tmp_path: Path) -> None:
    """Upstream unit test TestBlueGreenHandlePause/NoAutoPromoteAfterDelayTimePassesIfUserPaused:
    a rollout the user paused during its BlueGreenPause is not promoted when
    autoPromotionSeconds pass."""
    s = Scenario(sb, tmp_path, web(autoPromotionSeconds=10))
    s.healthy_rollout().update_spec().wait_for_status("Paused")
    _argocd_action(s, "pause")
    s.advance(30)
    assert (s.info()["status"], s.info()["message"]) == ("Paused", "manually paused")
    assert s.selector_revision("active") == 1
    _argocd_action(s, "resume")
    s.wait_for_status("Healthy", 30)
    assert s.selector_revision("active") == 2
