"""argo-rollouts' controller unit tests ``rollout/bluegreen_test.go`` (at 9f8d111d8) that describe
behaviour a user can see, ported as scenarios: each unit test's starting state is reached the way
a user reaches it (Git, Argo CD, the dashboard, the control API's clock) and what it asserts on
the status patch is asserted on the live Rollout. Divergences found on the way have their
ported tests in ``test_sandbox_divergences.py``; the unit tests not ported, and why, are listed
in ``tests/sandbox/README.md``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from scenario import Scenario, stepped_sandbox, web

from gitops_release.sandbox.server import Sandbox

STAMP = "%Y-%m-%dT%H:%M:%SZ"


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with stepped_sandbox(tmp_path) as sandbox:
        yield sandbox


def conditions(s: Scenario) -> dict[str, tuple[str, str]]:
    """type -> (status, reason) of the live Rollout's conditions."""
    return {
        c["type"]: (c["status"], c["reason"]) for c in s.rollout()["status"].get("conditions", [])
    }


def paused_update(s: Scenario) -> Scenario:
    return s.healthy_rollout().update_spec().wait_for_status("Paused")


def test_blue_green_creates_replica_set(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenCreatesReplicaSet: the first revision's ReplicaSet is stable at once
    ('Initial deploy') and previewed, while its pods come up (phase Progressing, Completed
    True); the active Service follows once it is available."""
    s = Scenario(sb, tmp_path, web(replicas=2)).apply_manifests()
    status = s.rollout()["status"]
    assert status["stableRS"] == status["currentPodHash"]
    assert status["blueGreen"]["previewSelector"] == status["currentPodHash"]
    assert "activeSelector" not in status["blueGreen"]
    assert status["phase"] == "Progressing" and conditions(s)["Completed"][0] == "True"
    s.wait_for_status("Healthy")
    assert s.selector_revision("active") == 1


def test_blue_green_set_preview_service(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenSetPreviewService: the preview Service selects the desired ReplicaSet as
    soon as it exists, the active one stays."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False)).healthy_rollout().update_spec()
    s.wait_for(lambda: s.selector_revision("preview") == 2, "preview on revision 2", 10)
    assert s.selector_revision("active") == 1


def test_set_service_managed_by(sb: Sandbox, tmp_path: Path) -> None:
    """TestSetServiceManagedBy: a Service the controller switched carries the
    argo-rollouts.argoproj.io/managed-by-rollouts annotation naming the Rollout."""
    s = Scenario(sb, tmp_path, web()).healthy_rollout()
    for service in ("web-active", "web-preview"):
        annotations = s.live("Service", service)["metadata"].get("annotations") or {}
        assert annotations.get("argo-rollouts.argoproj.io/managed-by-rollouts") == "web"


def test_blue_green_progress_deadline_abort(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenProgressDeadlineAbort: an established rollout whose update never becomes
    available, with progressDeadlineAbort, is aborted (Degraded, the message naming the
    ReplicaSet that timed out) and its active ReplicaSet stays."""
    s = Scenario(sb, tmp_path, web())
    s.rollout_manifest["spec"].update(progressDeadlineSeconds=1, progressDeadlineAbort=True)
    s.fail_image("nginx:broken", "never-ready")
    s.healthy_rollout()
    image = {"name": "web", "image": "nginx:broken"}
    s.patch_spec({"spec": {"template": {"spec": {"containers": [image]}}}})
    s.wait_for(lambda: s.rollout()["status"].get("abort"), "aborted", 30)
    status = s.rollout()["status"]
    rs = s.replica_set(2)["objectMeta"]["name"]
    assert status["phase"] == "Degraded"
    assert f'ReplicaSet "{rs}" has timed out progressing.' in status["message"]
    assert s.selector_revision("active") == 1


def test_no_pause_if_new_rs_is_not_healthy(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenHandlePause/NoPauseIfNewRSIsNotHealthy: no BlueGreenPause while the
    preview is not fully available."""
    s = Scenario(sb, tmp_path, web(replicas=2, autoPromotionEnabled=False))
    s.fail_image("nginx:slow", "never-ready")
    s.healthy_rollout()
    s.patch_spec(
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:slow"}]}}}}
    )
    s.advance(20)
    assert not s.rollout()["status"].get("pauseConditions")
    assert s.info()["status"] == "Progressing" and s.selector_revision("active") == 1


def test_add_pause(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenHandlePause/AddPause: once the preview is available the controller adds
    the BlueGreenPause with controllerPause, and the phase is Paused."""
    s = paused_update(Scenario(sb, tmp_path, web(autoPromotionEnabled=False)))
    status = s.rollout()["status"]
    assert [c["reason"] for c in status["pauseConditions"]] == ["BlueGreenPause"]
    assert status["controllerPause"] is True
    assert (status["phase"], status["message"]) == ("Paused", "BlueGreenPause")


def test_add_paused_condition_while_paused(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenHandlePause/AddPausedConditionWhilePaused: a paused rollout gets the Paused
    condition True and Progressing Unknown (RolloutPaused)."""
    s = paused_update(Scenario(sb, tmp_path, web(autoPromotionEnabled=False)))
    s.wait_for(lambda: conditions(s).get("Paused") == ("True", "RolloutPaused"), "Paused", 5)
    assert conditions(s)["Progressing"] == ("Unknown", "RolloutPaused")


def test_no_actions_after_pausing(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenHandlePause/NoActionsAfterPausing: while paused, nothing moves."""
    s = paused_update(Scenario(sb, tmp_path, web(autoPromotionEnabled=False)))
    s.advance(2)
    before = s.rollout()["status"]
    s.advance(60)
    after = s.rollout()["status"]
    assert after == before


def auto_promotion(s: Scenario) -> Scenario:
    return paused_update(s)


def test_no_auto_promote_before_delay_time_passes(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenHandlePause/NoAutoPromoteBeforeDelayTimePasses: with autoPromotionSeconds
    10, the rollout is still paused before they have passed."""
    s = paused_update(Scenario(sb, tmp_path, web(autoPromotionSeconds=10)))
    s.advance(5)
    assert s.info()["status"] == "Paused" and s.selector_revision("active") == 1


def test_auto_promote_after_delay_time_passes(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenHandlePause/AutoPromoteAfterDelayTimePasses: after autoPromotionSeconds the
    pause is removed, the active Service switches and the rollout completes."""
    s = paused_update(Scenario(sb, tmp_path, web(autoPromotionSeconds=10)))
    started = s.time
    s.wait_for_status("Healthy", 30)
    assert s.time - started >= 10
    status = s.rollout()["status"]
    assert "pauseConditions" not in status and "controllerPause" not in status
    assert s.selector_revision("active") == 2 and conditions(s)["Completed"][0] == "True"


def test_blue_green_handle_pause_auto_promote_with_conditions(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenHandlePauseAutoPromoteWithConditions: paused with its Paused and
    Progressing (RolloutPaused) conditions set, the rollout auto-promotes once
    autoPromotionSeconds pass and ends with Available, Healthy, Progressing
    NewReplicaSetAvailable and Completed, pause fields gone, the selector on revision 2."""
    s = paused_update(Scenario(sb, tmp_path, web(autoPromotionSeconds=10)))
    paused = ("Unknown", "RolloutPaused")
    s.wait_for(lambda: conditions(s).get("Progressing") == paused, "Progressing paused", 5)
    assert conditions(s)["Paused"] == ("True", "RolloutPaused")
    s.wait_for_status("Healthy", 30)
    got, status = conditions(s), s.rollout()["status"]
    assert got["Progressing"] == ("True", "NewReplicaSetAvailable")
    assert got["Healthy"][0] == got["Available"][0] == got["Completed"][0] == "True"
    assert "pauseConditions" not in status and "controllerPause" not in status
    assert status["selector"] == f"app=web,rollouts-pod-template-hash={status['stableRS']}"
    assert s.selector_revision("active") == 2


def test_no_pause_when_auto_promotion_enabled_is_not_set(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenHandlePause/NoPauseWhenAutoPromotionEnabledIsNotSet: the default promotes
    without a pause."""
    s = Scenario(sb, tmp_path, web()).healthy_rollout().update_spec()
    phases = []

    def done() -> bool:
        phases.append(s.info()["status"])
        return phases[-1] == "Healthy" and s.selector_revision("active") == 2

    s.wait_for(done, "revision 2 active", 30)
    assert "Paused" not in phases


def test_pause_when_auto_promotion_enabled_is_false(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenHandlePause/PauseWhenAutoPromotionEnabledIsFalse."""
    s = paused_update(Scenario(sb, tmp_path, web(autoPromotionEnabled=False)))
    assert s.info()["message"] == "BlueGreenPause" and s.selector_revision("active") == 1


def test_skip_pause_reconcile_when_active_has_pod_hash_selector(
    sb: Sandbox, tmp_path: Path
) -> None:
    """TestBlueGreenHandlePause/SkipPauseReconcileWhenActiveHasPodHashSelector: a first
    revision is never paused, even with autoPromotionEnabled false (nothing to protect)."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False)).apply_manifests()
    phases = []

    def done() -> bool:
        phases.append(s.info()["status"])
        return phases[-1] == "Healthy"

    s.wait_for(done, "Healthy", 30)
    assert "Paused" not in phases and s.selector_revision("active") == 1


def test_continue_after_unpaused(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenHandlePause/ContinueAfterUnpaused: after a promote the rollout resumes
    (Progressing RolloutResumed), switches the active Service and ends Healthy with
    Available, Healthy, Progressing NewReplicaSetAvailable and Completed."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False, scaleDownDelaySeconds=10))
    paused_update(s)
    paused = ("Unknown", "RolloutPaused")
    s.wait_for(lambda: conditions(s).get("Progressing") == paused, "Progressing paused", 5)
    promoted = s.promote()["status"]  # the Rollout after the controller's next pass
    progressing = [c for c in promoted["conditions"] if c["type"] == "Progressing"]
    assert (progressing[0]["status"], progressing[0]["reason"]) == ("Unknown", "RolloutResumed")
    s.wait_for_status("Healthy", 30)
    assert s.selector_revision("active") == 2
    got = conditions(s)
    assert got["Progressing"] == ("True", "NewReplicaSetAvailable")
    assert (got["Available"], got["Healthy"], got["Completed"]) == (
        ("True", "AvailableReason"),
        ("True", "RolloutHealthy"),
        ("True", "RolloutCompleted"),
    )
    assert "controllerPause" not in s.rollout()["status"]


def _promoted_twice(s: Scenario) -> None:
    paused_update(s)
    s.promote()
    s.wait_for_status("Healthy", 30)


def test_blue_green_add_scale_down_delay_to_previous_active_replica_set(
    sb: Sandbox, tmp_path: Path
) -> None:
    """TestBlueGreenAddScaleDownDelayToPreviousActiveReplicaSet: promoting switches the active
    Service and marks the new ReplicaSet stable (phase Healthy, selector on it); the previous
    active ReplicaSet keeps its pods."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False, scaleDownDelaySeconds=10))
    _promoted_twice(s)
    status = s.rollout()["status"]
    assert status["stableRS"] == status["blueGreen"]["activeSelector"] == status["currentPodHash"]
    assert status["selector"] == f"app=web,rollouts-pod-template-hash={status['stableRS']}"
    assert s.revision_pod_count(1) == 1


def test_blue_green_add_scale_down_delay(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenAddScaleDownDelay: on a pass after the promotion (as of v1.1) the previous
    ReplicaSet gets a scale-down deadline scaleDownDelaySeconds (default 30) ahead."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False))
    _promoted_twice(s)
    completed = [c for c in s.rollout()["status"]["conditions"] if c["type"] == "Completed"]
    promoted = datetime.strptime(completed[0]["lastTransitionTime"], STAMP)
    rs = s.wait_for(lambda: "scaleDownDeadline" in (r := s.replica_set(1)) and r, "deadline", 5)
    deadline = datetime.strptime(rs["scaleDownDeadline"], STAMP)
    assert 30 <= (deadline - promoted).total_seconds() <= 31
    assert rs["replicas"] == 1


def test_blue_green_not_ready_to_scale_down_old_replica(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenNotReadyToScaleDownOldReplica: before its deadline the old ReplicaSet keeps
    its pods."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False, scaleDownDelaySeconds=10))
    _promoted_twice(s)
    s.wait_for(lambda: "scaleDownDeadline" in s.replica_set(1), "deadline", 5)
    s.advance(8)
    assert s.revision_pod_count(1) == 1


def test_blue_green_ready_to_scale_down_old_replica(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenReadyToScaleDownOldReplica: past its deadline the old ReplicaSet is scaled
    to zero and loses the annotation."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False, scaleDownDelaySeconds=10))
    _promoted_twice(s)
    s.wait_for(lambda: "scaleDownDeadline" in s.replica_set(1), "deadline", 5)
    s.wait_for(lambda: s.revision_pod_count(1) == 0, "revision 1 scaled down", 15)
    assert "scaleDownDeadline" not in s.replica_set(1)


def test_fast_rollback(sb: Sandbox, tmp_path: Path) -> None:
    """TestFastRollback: Git back to the previous template while its ReplicaSet is inside its
    scale-down delay: no pause, it becomes active and stable again (as a new revision) and its
    deadline is removed."""
    s = Scenario(sb, tmp_path, web(autoPromotionEnabled=False, scaleDownDelaySeconds=60))
    s.rollout_manifest["spec"]["template"]["metadata"]["annotations"] = {"update": "0"}
    _promoted_twice(s)
    s.wait_for(lambda: "scaleDownDeadline" in s.replica_set(1), "deadline", 5)
    s.patch_spec({"spec": {"template": {"metadata": {"annotations": {"update": "0"}}}}})
    phases = []

    def done() -> bool:
        phases.append(s.info()["status"])
        return phases[-1] == "Healthy" and s.selector_revision("active") == 3

    s.wait_for(done, "revision 3 (the old template) active", 10)
    assert "Paused" not in phases
    assert "scaleDownDeadline" not in s.replica_set(3)


def test_blue_green_scale_down_limit(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenScaleDownLimit: with scaleDownDelayRevisionLimit 1, of two old ReplicaSets
    inside their delay only the newest keeps its pods."""
    s = Scenario(
        sb,
        tmp_path,
        web(scaleDownDelaySeconds=600, scaleDownDelayRevisionLimit=1),
    ).healthy_rollout()
    for revision in (2, 3):
        s.update_spec()
        s.wait_for(lambda r=revision: s.selector_revision("active") == r, f"rev {revision}", 30)
    s.advance(2)
    assert [s.revision_pod_count(r) for r in (3, 2, 1)] == [1, 1, 0]


def test_blue_green_abort(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenAbort: an aborted update leaves the active Service on the stable
    ReplicaSet, Degraded with 'RolloutAborted: Rollout aborted update to revision 2', and the
    selector names the stable ReplicaSet. (Upstream starts from an active Service already on
    the new ReplicaSet, a state only post-promotion analysis can hold; here the abort comes at
    the BlueGreenPause.)"""
    s = paused_update(Scenario(sb, tmp_path, web(autoPromotionEnabled=False)))
    s.abort()
    s.wait_for_status("Degraded", 5)
    status = s.rollout()["status"]
    stable = status["stableRS"]
    assert status["message"] == "RolloutAborted: Rollout aborted update to revision 2"
    assert status["blueGreen"]["activeSelector"] == stable
    assert status["selector"] == f"app=web,rollouts-pod-template-hash={stable}"
    assert conditions(s)["Progressing"] == ("False", "RolloutAborted")


def test_preview_replica_count_handle_scale_up_preview_check_point(
    sb: Sandbox, tmp_path: Path
) -> None:
    """TestPreviewReplicaCountHandleScaleUpPreviewCheckPoint (TrueAfterMeetingMinAvailable,
    TrueWhenScalingUpPreview, FalseAfterActiveServiceSwitch): with auto-promotion the preview
    first runs previewReplicaCount pods, then scaleUpPreviewCheckPoint latches and the preview
    grows to spec.replicas; the switch clears the latch."""
    s = Scenario(sb, tmp_path, web(replicas=5, previewReplicaCount=3, autoPromotionSeconds=5))
    paused_update(s)
    assert s.replica_set(2).get("available") == 3
    checkpoint: list[Any] = []

    def latched() -> bool:
        bg = s.rollout()["status"]["blueGreen"]
        checkpoint.append(bg.get("scaleUpPreviewCheckPoint"))
        return bool(checkpoint[-1])

    s.wait_for(latched, "scaleUpPreviewCheckPoint", 20)
    s.wait_for(lambda: s.replica_set(2)["replicas"] == 5, "preview scaled to 5", 5)
    s.wait_for(lambda: s.selector_revision("active") == 2, "switched", 20)
    s.advance(1)
    assert "scaleUpPreviewCheckPoint" not in s.rollout()["status"]["blueGreen"]


def test_blue_green_rollout_ignoring_scaling_use_preview_rs_count(
    sb: Sandbox, tmp_path: Path
) -> None:
    """TestBlueGreenRolloutIgnoringScalingUsePreviewRSCount: scaling a paused rollout with
    previewReplicaCount keeps the preview at that count (its desired-replicas annotation
    follows spec.replicas) while the active ReplicaSet is rescaled."""
    s = paused_update(
        Scenario(sb, tmp_path, web(replicas=1, autoPromotionEnabled=False, previewReplicaCount=1))
    )
    s.patch_spec({"spec": {"replicas": 2}})
    s.wait_for(lambda: s.replica_set(1).get("available") == 2, "active scaled to 2", 20)
    assert s.replica_set(2)["replicas"] == 1
    rs = s.live("ReplicaSet", s.replica_set(2)["objectMeta"]["name"], "apps")
    assert rs["metadata"]["annotations"]["rollout.argoproj.io/desired-replicas"] == "2"


def test_blue_green_rollout_completed(sb: Sandbox, tmp_path: Path) -> None:
    """TestBlueGreenRolloutCompleted: a completed rollout has Healthy True and Progressing
    NewReplicaSetAvailable ('ReplicaSet ... has successfully progressed.')."""
    s = Scenario(sb, tmp_path, web()).healthy_rollout()
    got = conditions(s)
    assert got["Healthy"] == ("True", "RolloutHealthy")
    assert got["Progressing"] == ("True", "NewReplicaSetAvailable")
    rs = s.replica_set(1)["objectMeta"]["name"]
    message = [c for c in s.rollout()["status"]["conditions"] if c["type"] == "Progressing"]
    assert message[0]["message"] == f'ReplicaSet "{rs}" has successfully progressed.'


def test_blue_green_rollout_status_hpa_status_fields_no_active_selector(
    sb: Sandbox, tmp_path: Path
) -> None:
    """TestBlueGreenRolloutStatusHPAStatusFieldsNoActiveSelector: while no Service is switched
    yet (a first revision coming up), HPAReplicas counts every pod and the selector is the
    Rollout's own."""
    s = Scenario(sb, tmp_path, web(replicas=2)).apply_manifests()
    status = s.rollout()["status"]
    assert "activeSelector" not in status["blueGreen"]
    assert status["selector"] == "app=web" and status["HPAReplicas"] == status["replicas"] == 2
