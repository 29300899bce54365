"""Golden tests of the status tree: byte for byte, against files and against the guide's outputs."""

from __future__ import annotations

import json
import os

import pytest

from gitops_release.views import render as views
from gitops_release.views.render import (
    AnalysisRunView,
    AppView,
    MetricView,
    PodView,
    ReplicaSetView,
    RolloutView,
)
from tests.conftest import DATA
from tests.status_data import GOLDEN, NOW, RS1, RS2, V1, V2, ago, later

GUIDE = DATA / "guide"


def pod(name: str, created: int, status: str = "Running", ready: str = "1/1") -> PodView:
    return PodView(name=name, status=status, ready=ready, created_at=ago(created))


def rollout(
    status: str,
    message: str,
    counts: tuple[int, int, int, int, int],
    sets: list[ReplicaSetView],
    created: int,
) -> RolloutView:
    desired, current, updated, ready, available = counts
    return RolloutView(
        name="bluegreen-rollout",
        namespace="default",
        status=status,
        message=message,
        desired=desired,
        current=current,
        updated=updated,
        ready=ready,
        available=available,
        created_at=ago(created),
        replica_sets=sets,
    )


def paused() -> RolloutView:
    return rollout(
        "Paused",
        "BlueGreenPause",
        (2, 3, 1, 2, 2),
        [
            ReplicaSetView(
                RS2,
                2,
                "Healthy",
                preview=True,
                replicas=1,
                available=1,
                images=[V2],
                created_at=ago(48),
                pods=[pod(f"{RS2}-wcbrs", 48)],
            ),
            ReplicaSetView(
                RS1,
                1,
                "Healthy",
                stable=True,
                active=True,
                replicas=2,
                available=2,
                images=[V1],
                created_at=ago(177),
                pods=[pod(f"{RS1}-b5z9x", 177), pod(f"{RS1}-b4cqq", 177)],
            ),
        ],
        created=177,
    )


def promoted_with_delay() -> RolloutView:
    return rollout(
        "Healthy",
        "",
        (2, 4, 2, 2, 2),
        [
            ReplicaSetView(
                RS2,
                2,
                "Healthy",
                stable=True,
                active=True,
                replicas=2,
                available=2,
                images=[V2],
                created_at=ago(165),
                pods=[pod(f"{RS2}-zj4hk", 19), pod(f"{RS2}-wcbrs", 165)],
            ),
            ReplicaSetView(
                RS1,
                1,
                "Healthy",
                replicas=2,
                available=2,
                images=[V1],
                created_at=ago(294),
                scale_down_deadline=later(11),
                pods=[pod(f"{RS1}-b4cqq", 294), pod(f"{RS1}-b5z9x", 294)],
            ),
        ],
        created=294,
    )


def healthy() -> RolloutView:
    return rollout(
        "Healthy",
        "",
        (2, 2, 2, 2, 2),
        [
            ReplicaSetView(
                RS2,
                2,
                "Healthy",
                stable=True,
                active=True,
                replicas=2,
                available=2,
                images=[V2],
                created_at=ago(208),
                pods=[pod(f"{RS2}-wcbrs", 208), pod(f"{RS2}-zj4hk", 62)],
            ),
            ReplicaSetView(
                RS1,
                1,
                "ScaledDown",
                replicas=0,
                images=[V1],
                created_at=ago(337),
                scale_down_deadline="",
            ),
        ],
        created=337,
    )


def aborted() -> RolloutView:
    rs3 = "bluegreen-rollout-7d6f9c8b44"
    return rollout(
        "Degraded",
        "RolloutAborted: Rollout aborted update to revision 3",
        (2, 3, 1, 2, 2),
        [
            ReplicaSetView(
                rs3,
                3,
                "Healthy",
                preview=True,
                replicas=1,
                available=1,
                images=["ikubernetes/myapp:v3"],
                created_at=ago(75),
                scale_down_deadline=later(29),
                pods=[pod(f"{rs3}-x7k2p", 75, ready="1/1")],
            ),
            ReplicaSetView(
                RS2,
                2,
                "Healthy",
                stable=True,
                active=True,
                replicas=2,
                available=2,
                images=[V2],
                created_at=ago(900),
                pods=[pod(f"{RS2}-wcbrs", 900), pod(f"{RS2}-zj4hk", 700)],
            ),
            ReplicaSetView(RS1, 1, "ScaledDown", replicas=0, images=[V1], created_at=ago(1500)),
        ],
        created=1500,
    )


def aborted_scaled_down() -> RolloutView:
    view = aborted()
    preview = view.replica_sets[0]
    preview.replicas, preview.available, preview.status, preview.pods = 0, 0, "ScaledDown", []
    preview.scale_down_deadline = ago(3)
    view.current = 2
    return view


def run(
    name: str, revision: int, status: str, created: int, kind: str, **counts: int
) -> AnalysisRunView:
    metric = MetricView(
        "error-rate",
        phase=status,
        success_condition="result[0] < 0.01",
        count=3,
        measured=sum(counts.values()),
        last_value="[0.2]" if counts.get("failed") else "[0.002]",
        last_phase="Failed" if counts.get("failed") else "Successful",
        **counts,
    )
    return AnalysisRunView(
        name, revision, status, kind=kind, created_at=ago(created), metrics=[metric], **counts
    )


def analysis_running() -> RolloutView:
    """Paused for promotion while the pre-promotion run measures the preview."""
    view = paused()
    view.analysis_runs = [run(f"{RS2}-2-pre", 2, "Running", 40, "PrePromotion", successful=2)]
    return view


def analysis_released() -> RolloutView:
    """Both runs of revision 2 under it, oldest first, as ``getAnalysisRunInfo`` sorts them."""
    view = healthy()
    view.analysis_runs = [
        run(f"{RS2}-2-pre", 2, "Successful", 190, "PrePromotion", successful=3),
        run(f"{RS2}-2-post", 2, "Successful", 70, "PostPromotion", successful=3),
    ]
    return view


def analysis_failed() -> RolloutView:
    """A pre-promotion run that failed aborted revision 3: the run stays under revision 3."""
    view = aborted()
    rs3 = view.replica_sets[0].name
    view.message = (
        "RolloutAborted: Rollout aborted update to revision 3: Blue/green pre-promotion analysis "
        'phase error/failed: Metric "error-rate" assessed Failed due to failed (1) > '
        "failureLimit (0)"
    )
    view.analysis_runs = [
        run(f"{rs3}-3-pre", 3, "Failed", 70, "PrePromotion", successful=1, failed=1),
        run(f"{RS2}-2-pre", 2, "Successful", 880, "PrePromotion", successful=3),
    ]
    return view


CASES = {
    "paused": paused,
    "analysis-running": analysis_running,
    "analysis-released": analysis_released,
    "analysis-failed": analysis_failed,
    "promoted-with-delay": promoted_with_delay,
    "healthy": healthy,
    "aborted": aborted,
    "aborted-delay-passed": aborted_scaled_down,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rollout_tree_golden(name: str) -> None:
    text = views.render_rollout(CASES[name](), NOW)
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_tree_has_no_trailing_spaces(name: str) -> None:
    text = views.render_rollout(CASES[name](), NOW)
    assert [line for line in text.splitlines() if line != line.rstrip()] == []


def _guide_block(name: str) -> list[str]:
    """The guide's ``kubectl argo rollouts get rollout`` output cut verbatim into
    ``tests/data/guide/get-rollout-NAME.txt``, lines right-stripped, without the blog's duplicated
    first ``Name:`` line."""
    block = (GUIDE / f"get-rollout-{name}.txt").read_text(encoding="utf-8")
    lines = [line.rstrip() for line in block.rstrip().splitlines()]
    if lines[0].startswith("Name:") and lines[1].startswith("Name:"):
        lines = lines[1:]
    return lines


@pytest.mark.parametrize(
    ("name", "case"),
    [("paused", paused), ("promoted-scale-down-delay", promoted_with_delay), ("healthy", healthy)],
)
def test_tree_matches_the_guides_kubectl_output(name: str, case: object) -> None:
    expected = _guide_block(name)
    got = [line.rstrip() for line in views.render_rollout(case(), NOW).splitlines()]  # type: ignore[operator]
    assert got == expected


def test_info_tags_and_icons() -> None:
    text = views.render_rollout(aborted(), NOW)
    assert "Status:          ✖ Degraded\n" in text
    assert "Message:         RolloutAborted: Rollout aborted update to revision 3\n" in text
    assert "preview,delay:29s" in text
    passed = views.render_rollout(aborted_scaled_down(), NOW)
    assert "• ScaledDown" in passed and "preview,delay:passed" in passed
    # images of scaled-down ReplicaSets are not listed
    assert "myapp:v3" not in passed.split("Replicas:")[0]


def test_status_header_and_json_share_the_data() -> None:
    view = AppView(
        name="myapp",
        sync="Synced",
        health="Suspended",
        revision="3f2c1a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a",
        target_revision="main",
        operation="Succeeded: successfully synced (all tasks run)",
        prod_url="http://prod.myapp.com",
        preview_url="http://test.myapp.com",
        rollout=paused(),
    )
    text = views.render_status(view, NOW)
    assert text.startswith(
        "Application:     myapp\n"
        "Sync:            Synced to 3f2c1a9e8d7c (main)\n"
        "Health:          Suspended\n"
        "Operation:       Succeeded: successfully synced (all tasks run)\n"
        "Prod URL:        http://prod.myapp.com\n"
        "Preview URL:     http://test.myapp.com\n\n"
        "Name:            bluegreen-rollout\n"
    )
    data = json.loads(json.dumps(views.status_json(view)))
    assert data["rollout"]["images"] == [f"{V1} (stable, active)", f"{V2} (preview)"]
    assert data["rollout"]["replica_sets"][0]["preview"] is True
    assert data["preview_url"] == "http://test.myapp.com"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (177, "2m57s"),
        (600, "10m"),
        (14340, "3h59m"),
        (3 * 86400, "3d"),
        (7 * 86400 + 3600, "7d1h"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert views.human_duration(seconds) == text


def test_list_table() -> None:
    rows = [
        views.ListRow(
            "myapp", "Synced", "Healthy", "3f2c1a9e8d7c6b5a", "myapp", "BlueGreen", "Healthy", "2/2"
        ),
        views.ListRow("other", "OutOfSync", "Missing", ""),
    ]
    assert views.render_list(rows) == (
        "NAME   SYNC       HEALTH   REVISION      ROLLOUT  STRATEGY   STATUS   READY\n"
        "myapp  Synced     Healthy  3f2c1a9e8d7c  myapp    BlueGreen  Healthy  2/2\n"
        "other  OutOfSync  Missing  -             -        -          -        -\n"
    )


def test_colour_keeps_the_columns() -> None:
    import re

    plain = views.render_rollout(paused(), NOW)
    coloured = views.colorize(plain)
    assert "\033[32m✔\033[0m Healthy" in coloured and "\033[34mpreview\033[0m" in coloured
    assert "\033[32mstable\033[0m,\033[32mactive\033[0m" in coloured
    assert re.sub(r"\033\[\d+m", "", coloured) == plain
