"""The target-state judges (pure): pinned to a revision and an image, fail fast, say what is missing."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_release.argo.model import (
    AnalysisRun,
    AnalysisStatus,
    Application,
    Measurement,
    MetricResult,
    ReplicaSet,
    Rollout,
)
from gitops_release.argo.types import Target
from gitops_release.argo.wait import Expect, judge_app, judge_rollout, parse_duration
from gitops_release.errors import UsageError


def app(
    revision: str = "new",
    sync: str = "Synced",
    health: str = "Suspended",
    ro_health: str = "Suspended",
    ro_message: str = "BlueGreenPause",
    op: dict[str, Any] | None = None,
    running: bool = False,
) -> Application:
    data: dict[str, Any] = {
        "metadata": {"name": "web"},
        "status": {
            "sync": {"status": sync, "revision": revision},
            "health": {"status": health},
            "resources": [
                {
                    "kind": "Rollout",
                    "name": "web",
                    "namespace": "prod",
                    "health": {"status": ro_health, "message": ro_message},
                }
            ],
        },
    }
    if op:
        data["status"]["operationState"] = op
    if running:
        data["operation"] = {"sync": {}}
    return Application.from_json(data)


def rollout(**kw: Any) -> Rollout:
    base: dict[str, Any] = dict(
        name="web", namespace="prod", generation=2, observed_generation=2, phase="Paused",
        message="BlueGreenPause", pause_reasons=("BlueGreenPause",), current_pod_hash="h2",
        stable_rs="h1", active_selector="h1", preview_selector="h2", replicas=2,
        preview_replica_count=1, images=("app:v2",),
    )  # fmt: skip
    base.update(kw)
    return Rollout(**base)


EXPECT = Expect(revision="new", images=("app:v2",))


def test_an_old_revision_never_satisfies() -> None:
    verdict = judge_app(
        Target.synced, app(revision="old", health="Healthy", ro_health="Healthy"), EXPECT, "web"
    )
    assert not verdict.done and not verdict.needs_detail
    assert "has not synced revision new yet (app at old, Synced)" in verdict.missing


def test_running_operation_waiting_on_the_paused_rollout_counts_as_synced() -> None:
    op = {
        "phase": "Running",
        "message": "waiting for healthy state of argoproj.io/Rollout/web",
        "syncResult": {"revision": "new"},
    }
    assert judge_app(Target.preview_ready, app(op=op, running=True), EXPECT, "web").needs_detail
    other = {"phase": "Running", "message": "one or more tasks are running"}
    verdict = judge_app(
        Target.synced, app(op=other, running=True, ro_health="Progressing"), EXPECT, "web"
    )
    assert verdict.missing == "sync operation Running: one or more tasks are running"


def test_failed_operation_for_our_revision_fails_fast() -> None:
    op = {
        "phase": "Failed",
        "message": "one or more objects failed to apply",
        "syncResult": {"revision": "new"},
    }
    assert (
        judge_app(Target.synced, app(op=op), EXPECT, "web").failed
        == "sync operation Failed: one or more objects failed to apply"
    )
    old = {"phase": "Failed", "message": "old failure", "syncResult": {"revision": "old"}}
    assert judge_app(Target.synced, app(op=old), EXPECT, "web").failed is None


def test_preview_ready_needs_the_preview_available() -> None:
    a = app()
    preview = ReplicaSet(name="web-h2", pod_hash="h2", replicas=1, available=0, images=("app:v2",))
    assert (
        judge_rollout(Target.preview_ready, a, rollout(), preview, EXPECT).missing
        == "preview has 0/1 available"
    )
    ready = ReplicaSet(name="web-h2", pod_hash="h2", replicas=1, available=1, images=("app:v2",))
    assert judge_rollout(Target.preview_ready, a, rollout(), ready, EXPECT).done


def test_released_also_satisfies_preview_ready() -> None:
    done = rollout(
        phase="Healthy", message="", pause_reasons=(), stable_rs="h2", active_selector="h2"
    )
    assert judge_rollout(Target.preview_ready, app(health="Healthy"), done, None, EXPECT).done


def test_released_needs_full_promotion() -> None:
    half = rollout(phase="Progressing", message="active service cutover pending", pause_reasons=())
    verdict = judge_rollout(Target.released, app(health="Progressing"), half, None, EXPECT)
    assert verdict.missing == "rollout web is Progressing: active service cutover pending"


def test_degraded_and_replaced_image_fail_fast() -> None:
    aborted = rollout(
        phase="Degraded",
        message="RolloutAborted: Rollout aborted update to revision 2",
        pause_reasons=(),
    )
    assert "RolloutAborted" in (
        judge_rollout(Target.released, app(), aborted, None, EXPECT).failed or ""
    )
    replaced = rollout(images=("app:v3",))
    assert "runs app:v3, not app:v2" in (
        judge_rollout(Target.synced, app(), replaced, None, EXPECT).failed or ""
    )


def test_not_yet_observed_waits() -> None:
    verdict = judge_rollout(Target.synced, app(), rollout(observed_generation=1), None, EXPECT)
    assert not verdict.done and "not observed" in verdict.missing


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1h30m", 5400.0)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_garbage() -> None:
    with pytest.raises(UsageError):
        parse_duration("soon")


def run(phase: str, measured: int, value: str, **extra: Any) -> AnalysisRun:
    last = Measurement(phase="Successful" if phase == "Running" else phase, value=value)
    metric = MetricResult(
        "error-rate", phase=phase, success_condition="result < 0.01", count=3,
        measured=measured, successful=measured, last=last,
    )  # fmt: skip
    return AnalysisRun("web-h2-2-pre", "prod", 2, phase, pod_hash="h2", metrics=(metric,), **extra)


def test_preview_ready_waits_while_the_pre_promotion_analysis_runs() -> None:
    """Paused with the preview available is not preview-ready until the analysis is Successful:
    the wait says which metric and how many measurements."""
    ready = ReplicaSet(name="web-h2", pod_hash="h2", replicas=1, available=1, images=("app:v2",))
    gated = rollout(
        pre_analysis=AnalysisStatus("web-h2-2-pre", "Running"), pre_analysis_wanted=True
    )
    runs = {"pre-promotion": run("Running", 2, "0.002")}
    verdict = judge_rollout(Target.preview_ready, app(), gated, ready, EXPECT, runs)
    assert not verdict.done
    assert verdict.missing == (
        'pre-promotion analysis web-h2-2-pre Running: metric "error-rate" (successCondition: '
        "result < 0.01): last value 0.002 (Successful), 2 of 3 measurements (2 successful)"
    )
    not_started = rollout(pre_analysis_wanted=True)
    verdict = judge_rollout(Target.preview_ready, app(), not_started, ready, EXPECT, {})
    assert verdict.missing == "rollout web: pre-promotion analysis not started yet"
    # an old revision's run does not gate this one
    old = {"pre-promotion": AnalysisRun("web-h1-1-pre", "prod", 1, "Failed", pod_hash="h1")}
    assert judge_rollout(Target.preview_ready, app(), rollout(), ready, EXPECT, old).done


def test_released_waits_for_the_post_promotion_analysis() -> None:
    promoted = rollout(
        phase="Healthy", message="", pause_reasons=(), stable_rs="h2", active_selector="h2",
        post_analysis=AnalysisStatus("web-h2-2-post", "Running"), post_analysis_wanted=True,
    )  # fmt: skip
    runs = {"post-promotion": run("Running", 1, "0.001")}
    verdict = judge_rollout(Target.released, app(health="Healthy"), promoted, None, EXPECT, runs)
    assert verdict.missing.startswith(
        'post-promotion analysis web-h2-2-pre Running: metric "error-rate"'
    )
    assert judge_rollout(Target.released, app(health="Healthy"), promoted, None, EXPECT, {}).done
