"""The CI-side analysis run (``analysis/run.py``): upstream's metric assessment, ported from
argo-rollouts ``analysis/analysis_test.go`` (9f8d111d8; the upstream test in each id), and the
measuring loop (count, interval, initialDelay, the limits, the deadline) on a fake clock with
scripted measurements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gitops_release.analysis.providers import Measurement
from gitops_release.analysis.run import MetricRun, assess, run_template
from gitops_release.analysis.template import Metric, Template
from gitops_release.errors import Failed, TimedOut
from gitops_release.output import Output


def _metric(**spec: Any) -> Metric:
    return Metric(name="m", provider="web", spec={"url": "http://x"}, **spec)


def _with(metric: Metric, *phases: str) -> MetricRun:
    run = MetricRun(metric)
    for phase in phases:
        run.add(Measurement(phase))
    return run


# (upstream test, metric fields, measurement phases, expected phase)
ASSESS = [
    ("TestAssessMetricStatusNoMeasurements", {}, (), "Pending"),
    ("TestAssessMetricStatusFailureLimit/over", {"failure_limit": 2, "count": 5}, ("Failed",) * 3, "Failed"),
    ("TestAssessMetricStatusFailureLimit/at", {"failure_limit": 3, "count": 5}, ("Failed",) * 3, "Running"),
    ("TestAssessMetricStatusInconclusiveLimit/over", {"inconclusive_limit": 2, "count": 5}, ("Inconclusive",) * 3, "Inconclusive"),
    ("TestAssessMetricStatusInconclusiveLimit/at", {"inconclusive_limit": 3, "count": 5}, ("Inconclusive",) * 3, "Running"),
    ("TestAssessMetricStatusConsecutiveErrors/over", {"count": 10}, ("Error",) * 5, "Error"),
    ("TestAssessMetricStatusConsecutiveErrors/at", {"count": 10}, ("Error",) * 4, "Running"),
    ("TestAssessMetricStatusConsecutiveErrors/reset", {"count": 10}, ("Error",) * 4 + ("Successful", "Error"), "Running"),
    ("TestAssessMetricStatusConsecutiveErrors/limit-0", {"consecutive_error_limit": 0, "count": 3}, ("Error",), "Error"),
    ("TestAssessMetricStatusCountReached", {"count": 3}, ("Successful",) * 3, "Successful"),
    ("TestAssessMetricStatusCountReached/failures-within-limit", {"count": 3, "failure_limit": 1}, ("Successful", "Failed", "Successful"), "Successful"),
    ("TestAssessMetricStatusConsecutiveSuccessLimit/reached", {"count": 9, "failure_limit": -1, "consecutive_success_limit": 3}, ("Failed", "Successful", "Successful", "Successful"), "Successful"),
    ("TestAssessMetricStatusConsecutiveSuccessLimit/count-reached-limit-not", {"count": 4, "failure_limit": -1, "consecutive_success_limit": 3}, ("Successful", "Failed", "Successful", "Successful"), "Failed"),
    ("TestAssessMetricStatusConsecutiveSuccessLimit/count-reached-limit-not/failure-applies", {"count": 4, "failure_limit": 4, "consecutive_success_limit": 3}, ("Successful", "Failed", "Successful", "Successful"), "Inconclusive"),
    ("TestAssessMetricStatusFailureLimit/default-0", {"count": 3}, ("Successful", "Failed"), "Failed"),
    ("TestAssessMetricStatusFailureLimit/unlimited", {"count": 3, "failure_limit": -1}, ("Failed", "Failed", "Failed"), "Successful"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "phases", "expected"), [c[1:] for c in ASSESS], ids=[c[0] for c in ASSESS]
)
def test_assess_metric_status(
    fields: dict[str, Any], phases: tuple[str, ...], expected: str
) -> None:
    assert assess(_with(_metric(**fields), *phases))[0] == expected


def test_the_limit_crossed_is_named() -> None:
    assert assess(_with(_metric(count=3), "Failed")) == (
        "Failed",
        "failed (1) > failureLimit (0)",
    )
    assert assess(_with(_metric(count=9), *("Error",) * 5))[1] == (
        "consecutiveErrors (5) > consecutiveErrorLimit (4)"
    )


class Script:
    """A fake clock, and measurements taken from a list (the time each was taken is kept)."""

    def __init__(self, *values: tuple[str, str]) -> None:
        self.now = 0.0
        self.values: Iterator[tuple[str, str]] = iter(values)
        self.taken_at: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def take(self, metric: Metric, **_: Any) -> Measurement:
        self.taken_at.append(self.now)
        phase, value = next(self.values)
        return Measurement(phase, value)


def _run(metric: Metric, script: Script, *, deadline: float = 1000.0) -> Any:
    return run_template(
        Template("error-rate", "analysis.yaml", (metric,)),
        app="myapp", deadline=deadline, out=Output(), clock=script.clock, sleep=script.sleep,
        take=script.take,
    )  # fmt: skip


def test_count_interval_and_initial_delay_schedule_the_measurements() -> None:
    script = Script(*[("Successful", "[0.001]")] * 3)
    result = _run(_metric(count=3, interval=60.0, initial_delay=30.0), script)
    assert result.phase == "Successful"
    assert script.taken_at == [30.0, 90.0, 150.0]
    assert result.payload()["metrics"][0]["measured"] == 3


def test_a_failure_over_the_limit_ends_the_run_naming_metric_and_value() -> None:
    script = Script(("Successful", "[0.001]"), ("Failed", "[0.2]"), ("Successful", "[0]"))
    metric = _metric(count=3, interval=60.0, success=None)
    with pytest.raises(Failed) as err:
        _run(metric, script)
    assert len(script.taken_at) == 2  # the third is not taken: the run ended
    assert 'Metric "m" assessed Failed due to failed (1) > failureLimit (0)' in err.value.message
    assert "last value [0.2] (Failed)" in err.value.message
    assert err.value.details is not None and err.value.details["phase"] == "Failed"


def test_errors_end_in_error_after_the_consecutive_error_limit() -> None:
    script = Script(*[("Error", "")] * 6)
    with pytest.raises(Failed) as err:
        _run(_metric(count=10, interval=1.0), script)
    assert len(script.taken_at) == 5
    assert "Error" in err.value.message and "consecutiveErrorLimit (4)" in err.value.message


def test_errors_do_not_count_towards_the_count() -> None:
    """Upstream counts every measurement but Error in ``count``: an error is measured again."""
    script = Script(("Error", ""), ("Successful", "[0]"), ("Error", ""), ("Successful", "[0]"))
    result = _run(_metric(count=2, interval=1.0), script)
    assert result.phase == "Successful" and len(script.taken_at) == 4
    assert result.metrics[0].counts() == "2 of 2 measurements (2 successful, 2 error)"


def test_inconclusive_asks_for_a_person() -> None:
    script = Script(("Inconclusive", "[0.02]"))
    with pytest.raises(Failed) as err:
        _run(_metric(count=3, interval=1.0), script)
    assert "Inconclusive" in err.value.message and "a person must decide" in (err.value.hint or "")


def test_the_deadline_stops_before_a_measurement_it_cannot_hold() -> None:
    script = Script(*[("Successful", "[0]")] * 3)
    with pytest.raises(TimedOut) as err:
        _run(_metric(count=3, interval=60.0), script, deadline=100.0)
    assert script.taken_at == [0.0, 60.0]
    assert "2 of 3 measurements" in err.value.message
