"""The blue-green controller on a clock the test moves: the guide's story, state by state."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sandbox_helpers import GUIDE_ROLLOUT

from gitops_release.sandbox.clock import Clock
from gitops_release.sandbox.health import rollout_health
from gitops_release.sandbox.replicaset import SCALE_DOWN_DEADLINE, Timing
from gitops_release.sandbox.rollout import Rollout, RolloutError


def manifest(image: str, **bg: Any) -> dict[str, Any]:
    m = copy.deepcopy(GUIDE_ROLLOUT)
    m["spec"]["template"]["spec"]["containers"][0]["image"] = image
    m["spec"]["strategy"]["blueGreen"].update(bg)
    return m


class Driver:
    """A Rollout and a clock that only moves when the test says so."""

    def __init__(self, m: dict[str, Any], failing: dict[str, str] | None = None) -> None:
        self.clock = Clock(scale=1e9)  # wall time is frozen; advance() moves it
        self.failing = failing or {}
        self.ro = Rollout(m, namespace="default", clock=self.clock, timing=Timing())

    def step(self, seconds: float = 0.0) -> None:
        remaining = seconds
        while True:
            self.ro.reconcile(self.failing.get)
            if remaining <= 0:
                break
            self.clock.advance(min(1.0, remaining))
            remaining -= 1.0
        self.ro.reconcile(self.failing.get)

    def tree(self) -> list[tuple[int, int, int, str]]:
        """(revision, replicas, ready, tags) per ReplicaSet, newest first."""
        now = self.clock.seconds()
        st = self.ro.status
        rows = []
        for rs in sorted(self.ro.replicasets, key=lambda r: -r.revision):
            tags = []
            if rs.hash == st.get("stableRS"):
                tags.append("stable")
            if rs.hash == st["blueGreen"].get("activeSelector"):
                tags.append("active")
            elif rs.hash == st["blueGreen"].get("previewSelector"):
                tags.append("preview")
            if SCALE_DOWN_DEADLINE in rs.annotations:
                tags.append("delay")
            rows.append(
                (rs.revision, rs.replicas, rs.available(now, self.ro.timing), ",".join(tags))
            )
        return rows

    @property
    def phase(self) -> tuple[str, str]:
        return self.ro.status["phase"], self.ro.status.get("message", "")


def test_first_revision_goes_straight_to_healthy() -> None:
    d = Driver(manifest("ikubernetes/myapp:v1"))
    d.step()
    assert d.phase == ("Progressing", "updated replicas are still becoming available")
    d.step(10)
    assert d.phase == ("Healthy", "")
    assert d.tree() == [(1, 2, 2, "stable,active")]
    assert d.ro.replicasets[0].name.startswith("bluegreen-rollout-")
    assert set(d.ro.replicasets[0].hash) <= set("456789bcdf")
    obj = d.ro.to_object("1")
    assert rollout_health(obj) == {"status": "Healthy", "message": ""}
    assert obj["status"]["observedGeneration"] == "1"


def test_guide_update_promote_rollback_abort() -> None:
    d = Driver(manifest("ikubernetes/myapp:v1"))
    d.step(10)
    v1 = d.ro.status["stableRS"]
    # bump to v2: preview of one pod, then BlueGreenPause
    d.ro.apply(manifest("ikubernetes/myapp:v2"))
    d.step(10)
    assert d.phase == ("Paused", "BlueGreenPause")
    assert d.tree() == [(2, 1, 1, "preview"), (1, 2, 2, "stable,active")]
    st = d.ro.status
    assert (
        st["replicas"],
        st["updatedReplicas"],
        st["readyReplicas"],
        st["availableReplicas"],
    ) == (3, 1, 2, 2)
    assert rollout_health(d.ro.to_object("2")) == {
        "status": "Suspended",
        "message": "BlueGreenPause",
    }
    # promote: preview scales to 2, active switches, old RS keeps running for 30 s
    assert d.ro.promote(full=False) is True
    d.step(10)
    assert d.phase == ("Healthy", "")
    assert d.tree() == [(2, 2, 2, "stable,active"), (1, 2, 2, "delay")]
    d.step(30)
    assert d.tree() == [(2, 2, 2, "stable,active"), (1, 0, 0, "")]
    # git back to v1: the old template comes back as revision 3 and pauses again
    d.ro.apply(manifest("ikubernetes/myapp:v1"))
    d.step(10)
    assert d.phase == ("Paused", "BlueGreenPause")
    assert d.tree() == [(3, 1, 1, "preview"), (2, 2, 2, "stable,active")]
    assert d.ro.status["currentPodHash"] == v1
    d.ro.promote(full=False)
    d.step(50)
    assert d.tree() == [(3, 2, 2, "stable,active"), (2, 0, 0, "")]
    # v3 then abort: Degraded, active stays, preview scaled down after 30 s
    d.ro.apply(manifest("ikubernetes/myapp:v3"))
    d.step(10)
    assert d.phase == ("Paused", "BlueGreenPause")
    d.ro.abort()
    d.step(1)
    assert d.phase == ("Degraded", "RolloutAborted: Rollout aborted update to revision 4")
    assert d.tree()[0] == (4, 1, 1, "preview,delay")
    d.step(31)
    assert d.tree() == [(4, 0, 0, "preview,delay"), (3, 2, 2, "stable,active"), (2, 0, 0, "")]
    assert rollout_health(d.ro.to_object("3")) == {
        "status": "Degraded",
        "message": "RolloutAborted: Rollout aborted update to revision 4",
    }
    # retry: preview back up and paused again
    d.ro.retry()
    d.step(10)
    assert d.phase == ("Paused", "BlueGreenPause")
    assert d.tree()[0] == (4, 1, 1, "preview")


def test_promote_too_early_is_a_silent_noop_and_full_skips_the_pause() -> None:
    d = Driver(manifest("ikubernetes/myapp:v1"))
    d.step(10)
    d.ro.apply(manifest("ikubernetes/myapp:v2"))
    d.step()
    assert d.ro.promote(full=False) is False
    assert d.ro.promote(full=True) is True
    d.step(10)
    assert d.phase == ("Healthy", "")
    assert "promoteFull" not in d.ro.status


def test_auto_promotion_seconds_resumes_by_itself() -> None:
    d = Driver(manifest("ikubernetes/myapp:v1", autoPromotionEnabled=True, autoPromotionSeconds=20))
    d.step(10)
    d.ro.apply(manifest("ikubernetes/myapp:v2", autoPromotionEnabled=True, autoPromotionSeconds=20))
    d.step(10)
    assert d.phase == ("Paused", "BlueGreenPause")
    d.step(30)
    assert d.phase == ("Healthy", "")


def test_fast_rollback_within_scale_down_delay_does_not_pause() -> None:
    d = Driver(manifest("ikubernetes/myapp:v1", previewReplicaCount=None))
    d.step(10)
    d.ro.apply(manifest("ikubernetes/myapp:v2", previewReplicaCount=None))
    d.step(10)
    d.ro.promote(full=False)
    d.step(10)
    assert d.tree()[1] == (1, 2, 2, "delay")
    d.ro.apply(manifest("ikubernetes/myapp:v1", previewReplicaCount=None))
    d.step(2)
    assert d.phase == ("Healthy", "")
    assert d.tree()[0] == (3, 2, 2, "stable,active")


def test_with_preview_replica_count_a_rollback_inside_the_delay_pauses() -> None:
    """As the controller code runs: the first full pass after the template change removes the
    returning ReplicaSet's scale-down deadline and scales it to previewReplicaCount
    (NewRSNewReplicas), so it is not ready to switch in the one pass that still saw the
    deadline (newRSWithinDelay); the next pass no longer sees a fast rollback and pauses."""
    d = Driver(manifest("ikubernetes/myapp:v1"))
    d.step(10)
    d.ro.apply(manifest("ikubernetes/myapp:v2"))
    d.step(10)
    d.ro.promote(full=False)
    d.step(10)
    assert d.tree()[1] == (1, 2, 2, "delay")
    d.ro.apply(manifest("ikubernetes/myapp:v1"))
    d.step(10)
    assert d.phase == ("Paused", "BlueGreenPause")
    assert d.tree() == [(3, 1, 1, "preview"), (2, 2, 2, "stable,active")]


def test_failing_image_exceeds_progress_deadline() -> None:
    d = Driver(manifest("ikubernetes/myapp:v1"), failing={"ikubernetes/myapp:v9": "never-ready"})
    d.step(10)
    d.ro.apply(manifest("ikubernetes/myapp:v9"))
    d.step(300)
    assert d.phase[0] == "Progressing"
    d.step(400)
    phase, message = d.phase
    assert phase == "Degraded"
    assert message.startswith('ProgressDeadlineExceeded: ReplicaSet "bluegreen-rollout-')
    assert d.tree()[1] == (1, 2, 2, "stable,active")


def test_undo_and_restart() -> None:
    d = Driver(manifest("ikubernetes/myapp:v1"))
    d.step(10)
    d.ro.apply(manifest("ikubernetes/myapp:v2"))
    d.step(10)
    d.ro.promote(full=False)
    d.step(60)
    d.ro.undo(0)
    d.step(10)
    assert d.phase == ("Paused", "BlueGreenPause")
    assert d.tree()[0][0] == 3
    with pytest.raises(RolloutError, match="unable to find specified revision 9"):
        d.ro.undo(9)
    d.ro.promote(full=False)
    d.step(60)
    pods = {p.name for p in d.ro.replicasets[0].pods + d.ro.replicasets[1].pods}
    d.ro.restart()
    d.step(1)
    assert d.phase == ("Progressing", "rollout is restarting")
    d.step(30)
    assert d.phase == ("Healthy", "")
    after = {p.name for rs in d.ro.replicasets for p in rs.pods}
    assert not pods & after


def test_rollout_info_renders_like_kubectl_argo_rollouts_get() -> None:
    import re

    from gitops_release.sandbox.rolloutinfo import render_tree, rollout_info

    d = Driver(manifest("ikubernetes/myapp:v1"))
    d.step(10)
    d.ro.apply(manifest("ikubernetes/myapp:v2"))
    d.step(10)
    text = render_tree(rollout_info(d.ro, "7"), d.clock.now())
    header, tree = text.split("\n\n")
    assert header == (
        "Name:            bluegreen-rollout\n"
        "Namespace:       default\n"
        "Status:          ॥ Paused\n"
        "Message:         BlueGreenPause\n"
        "Strategy:        BlueGreen\n"
        "Images:          ikubernetes/myapp:v1 (stable, active)\n"
        "                 ikubernetes/myapp:v2 (preview)\n"
        "Replicas:\n"
        "  Desired:       2\n"
        "  Current:       3\n"
        "  Updated:       1\n"
        "  Ready:         2\n"
        "  Available:     2"
    )
    shape = [
        re.sub(r"bluegreen-rollout-[0-9a-z]+(-[0-9a-z]{5})?", "NAME", line)
        for line in tree.splitlines()
    ]
    shape = [re.sub(r"\s+", " ", line).strip() for line in shape]
    assert shape == [
        "NAME KIND STATUS AGE INFO",
        "⟳ bluegreen-rollout Rollout ॥ Paused 20s",
        "├──# revision:2",
        "│ └──⧉ NAME ReplicaSet ✔ Healthy 10s preview",
        "│ └──□ NAME Pod ✔ Running 8s ready:1/1",
        "└──# revision:1",
        "└──⧉ NAME ReplicaSet ✔ Healthy 20s stable,active",
        "├──□ NAME Pod ✔ Running 19s ready:1/1",
        "└──□ NAME Pod ✔ Running 19s ready:1/1",
    ]
    d.ro.promote(full=False)
    d.step(12)  # resumed, preview scaled up to 2, switched, then the old one's deadline set
    text = render_tree(rollout_info(d.ro, "8"), d.clock.now())
    assert re.search(r"ReplicaSet  ✔ Healthy  32s  delay:2\ds", text), text
    assert (
        "Images:          ikubernetes/myapp:v1\n                 ikubernetes/myapp:v2 (stable, active)"
        in text
    )


def test_a_manual_pause_holds_the_services_until_resumed() -> None:
    from gitops_release.sandbox.actions import list_actions, run_action

    d = Driver(manifest("ikubernetes/myapp:v1"))
    d.step(10)
    actions = {a["name"]: a.get("disabled", False) for a in list_actions(d.ro.to_object("1"))}
    assert actions == {
        "abort": True,
        "pause": True,
        "promote-full": True,
        "restart": False,
        "resume": True,
        "retry": True,
        "skip-current-step": True,
    }
    d.ro.apply(manifest("ikubernetes/myapp:v2"))
    run_action(d.ro, "pause")
    d.step(20)
    assert d.phase == ("Paused", "manually paused")
    # haltProgress: the preview is scaled, but no Service moves to it
    assert d.tree() == [(2, 1, 1, ""), (1, 2, 2, "stable,active")]
    run_action(d.ro, "resume")
    d.step(10)
    assert d.phase == ("Paused", "BlueGreenPause")
    run_action(d.ro, "promote-full")
    d.step(10)
    assert d.phase == ("Healthy", "")


def test_a_tag_that_does_not_exist_shows_image_pull_back_off() -> None:
    from gitops_release.sandbox.rolloutinfo import rollout_info

    d = Driver(manifest("ikubernetes/myapp:v1"), failing={"ikubernetes/myapp:nope": "pull-error"})
    d.step(10)
    d.ro.apply(manifest("ikubernetes/myapp:nope"))
    d.step(4)  # the ReplicaSet is created, then the status reset, then it is scaled
    pod = rollout_info(d.ro, "1")["replicaSets"][0]["pods"][0]
    assert (pod["status"], pod["icon"], pod["ready"]) == ("ErrImagePull", "⚠", "0/1")
    d.step(10)
    pod = rollout_info(d.ro, "1")["replicaSets"][0]["pods"][0]
    assert (pod["status"], pod["icon"]) == ("ImagePullBackOff", "⚠")
    assert d.phase == ("Progressing", "more replicas need to be updated")
