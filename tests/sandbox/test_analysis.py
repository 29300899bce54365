"""The analysis controller's semantics, ported from argo-rollouts ``analysis/analysis_test.go``
(9f8d111d8): each test names the upstream test it ports. Times are controller seconds; ``NOW``
stands for upstream's ``time.Now()``.
"""

from __future__ import annotations

from typing import Any

import pytest

from gitops_release.sandbox.analysis import (
    assess_metric_status,
    assess_run_status,
    calculate_next_reconcile_time,
    generate_metric_tasks,
    reconcile,
)
from gitops_release.sandbox.analysisspec import parse_duration, resolve_metric_args, validate_metric

NOW = 1000.0


def measurement(phase: str, ago: float | None = 60.0, *, finished: bool = True) -> dict[str, Any]:
    m: dict[str, Any] = {"phase": phase, "value": "99", "startedAt": NOW - (ago or 0)}
    if finished:
        m["finishedAt"] = NOW - (ago or 0)
    return m


def run_of(
    metrics: list[dict[str, Any]], results: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "spec": {"metrics": metrics},
        "status": {"phase": "Running", "metricResults": results or []},
    }


# --- generateMetricTasks ----------------------------------------------------------------------
def test_generate_metric_tasks_interval() -> None:
    """TestGenerateMetricTasksInterval"""
    run = run_of(
        [{"name": "success-rate", "interval": "60s"}],
        [
            {
                "name": "success-rate",
                "phase": "Running",
                "measurements": [measurement("Successful", 50)],
            }
        ],
    )
    assert generate_metric_tasks(run, run["spec"]["metrics"], NOW) == []
    run["status"]["metricResults"][0]["measurements"] = [measurement("Successful", 61)]
    assert len(generate_metric_tasks(run, run["spec"]["metrics"], NOW)) == 1


def test_generate_metric_tasks_failing() -> None:
    """TestGenerateMetricTasksFailing: a failed sibling stops new measurements."""
    run = run_of(
        [{"name": "success-rate"}, {"name": "latency"}], [{"name": "latency", "phase": "Failed"}]
    )
    assert generate_metric_tasks(run, run["spec"]["metrics"], NOW) == []
    run["status"]["metricResults"] = []
    assert len(generate_metric_tasks(run, run["spec"]["metrics"], NOW)) == 2


def test_generate_metric_tasks_no_interval_or_count() -> None:
    """TestGenerateMetricTasksNoIntervalOrCount"""
    result = {"name": "success-rate", "count": 1, "measurements": [measurement("Successful", 50)]}
    run = run_of([{"name": "success-rate"}], [result])
    assert generate_metric_tasks(run, run["spec"]["metrics"], NOW) == []
    result["measurements"], result["count"] = [], 0
    assert len(generate_metric_tasks(run, run["spec"]["metrics"], NOW)) == 1


def test_generate_metric_tasks_incomplete() -> None:
    """TestGenerateMetricTasksIncomplete"""
    m = measurement("Successful", 50, finished=False)
    run = run_of(
        [{"name": "success-rate"}],
        [{"name": "success-rate", "phase": "Running", "measurements": [m]}],
    )
    tasks = generate_metric_tasks(run, run["spec"]["metrics"], NOW)
    assert len(tasks) == 1 and tasks[0][1] is not None


def test_generate_metric_tasks_honor_initial_delay() -> None:
    """TestGenerateMetricTasksHonorInitialDelay"""
    run = run_of([{"name": "success-rate", "initialDelay": "20s"}])
    assert generate_metric_tasks(run, run["spec"]["metrics"], NOW) == []
    run["status"]["startedAt"] = NOW - 10
    assert generate_metric_tasks(run, run["spec"]["metrics"], NOW) == []
    run["status"]["startedAt"] = NOW - 20
    assert len(generate_metric_tasks(run, run["spec"]["metrics"], NOW + 0.001)) == 1
    run["spec"]["metrics"][0]["initialDelay"] = "invalid-start-delay"
    assert generate_metric_tasks(run, run["spec"]["metrics"], NOW) == []


def test_generate_metric_tasks_honor_resume_at() -> None:
    """TestGenerateMetricTasksHonorResumeAt"""
    later = dict(measurement("Successful", 50, finished=False), resumeAt=NOW + 10)
    due = dict(measurement("Successful", 50, finished=False), resumeAt=NOW - 10)
    run = run_of(
        [{"name": "success-rate"}, {"name": "success-rate2"}],
        [
            {"name": "success-rate", "phase": "Running", "measurements": [later]},
            {"name": "success-rate2", "phase": "Running", "measurements": [due]},
        ],
    )
    tasks = generate_metric_tasks(run, run["spec"]["metrics"], NOW)
    assert [t[0]["name"] for t in tasks] == ["success-rate2"]


def test_generate_metric_tasks_error() -> None:
    """TestGenerateMetricTasksError: an errored measurement is retried after 10 s, not the interval."""
    result = {
        "name": "success-rate",
        "phase": "Running",
        "error": 1,
        "measurements": [measurement("Error", 120)],
    }
    run = run_of([{"name": "success-rate"}], [result])
    assert len(generate_metric_tasks(run, run["spec"]["metrics"], NOW)) == 1
    result["measurements"] = [measurement("Error", 5)]
    assert generate_metric_tasks(run, run["spec"]["metrics"], NOW) == []


# --- assessMetricStatus -------------------------------------------------------------------------
def _result(**counts: int) -> dict[str, Any]:
    return {"measurements": [measurement("Failed")], **counts}


# (upstream test, metric, result, expected when not terminating, expected when terminating)
METRIC_STATUS = [
    ("TestAssessMetricStatusNoMeasurements", {}, {"measurements": []}, "Pending", "Successful"),
    (
        "TestAssessMetricStatusInFlightMeasurement",
        {},
        {"measurements": [measurement("Successful"), measurement("Running", 0, finished=False)]},
        "Running",
        "Running",
    ),
    (
        "TestAssessMetricStatusFailureLimit/2",
        {"failureLimit": 2, "interval": "60s"},
        _result(failed=3, count=3),
        "Failed",
        "Failed",
    ),
    (
        "TestAssessMetricStatusFailureLimit/3",
        {"failureLimit": 3, "interval": "60s"},
        _result(failed=3, count=3),
        "Running",
        "Successful",
    ),
]
_CSL = {"failureLimit": -1, "interval": "60s"}
_CSL_RESULT = _result(failed=3, successful=4, consecutiveSuccess=3, count=7)
METRIC_STATUS += [
    (
        "TestAssessMetricStatusConsecutiveSuccessLimit/indefinite-reached",
        {**_CSL, "consecutiveSuccessLimit": 3},
        _CSL_RESULT,
        "Successful",
        "Successful",
    ),
    (
        "TestAssessMetricStatusConsecutiveSuccessLimit/indefinite-not-reached",
        {**_CSL, "consecutiveSuccessLimit": 5},
        _CSL_RESULT,
        "Running",
        "Successful",
    ),
    (
        "TestAssessMetricStatusConsecutiveSuccessLimit/count-reached-limit-not",
        {**_CSL, "consecutiveSuccessLimit": 5, "count": 7},
        _CSL_RESULT,
        "Failed",
        "Failed",
    ),
    (
        "TestAssessMetricStatusConsecutiveSuccessLimit/count-reached-limit-reached",
        {**_CSL, "consecutiveSuccessLimit": 3, "count": 7},
        _CSL_RESULT,
        "Successful",
        "Successful",
    ),
    (
        "TestAssessMetricStatusConsecutiveSuccessLimit/count-not-reached-limit-reached",
        {**_CSL, "consecutiveSuccessLimit": 3, "count": 9},
        _CSL_RESULT,
        "Successful",
        "Successful",
    ),
    (
        "TestAssessMetricStatusConsecutiveSuccessLimit/count-not-reached-limit-not",
        {**_CSL, "consecutiveSuccessLimit": 5, "count": 9},
        _CSL_RESULT,
        "Running",
        "Successful",
    ),
]
_BOTH = {"failureLimit": 4, "consecutiveSuccessLimit": 4, "interval": "60s"}
_BOTH_ROWS = [  # (count in spec, failed, successful, count, consecutiveSuccess, not terminating, terminating)
    (None, 3, 4, 7, 3, "Running", "Successful"),
    (None, 5, 9, 9, 0, "Failed", "Failed"),
    (None, 3, 5, 8, 4, "Successful", "Successful"),
    (None, 5, 5, 10, 4, "Failed", "Failed"),
    (10, 4, 6, 10, 3, "Inconclusive", "Inconclusive"),
    (10, 5, 5, 10, 3, "Failed", "Failed"),
    (10, 4, 6, 10, 4, "Successful", "Successful"),
    (10, 5, 5, 10, 4, "Failed", "Failed"),
    (10, 3, 5, 8, 3, "Running", "Successful"),
    (10, 5, 3, 8, 3, "Failed", "Failed"),
    (10, 3, 5, 8, 4, "Successful", "Successful"),
    (10, 5, 4, 9, 4, "Failed", "Failed"),
]
for i, (spec_count, f, s, c, cs, live, term) in enumerate(_BOTH_ROWS):
    METRIC_STATUS.append(
        (
            f"TestAssessMetricStatusFailureLimitAndConsecutiveSuccessLimit/{i}",
            {**_BOTH, **({"count": spec_count} if spec_count else {})},
            _result(failed=f, successful=s, count=c, consecutiveSuccess=cs),
            live,
            term,
        )
    )
_INC = {"measurements": [measurement("Inconclusive")], "inconclusive": 3, "count": 3}
_ERR = {"measurements": [measurement("Error")], "consecutiveError": 5, "count": 5}
METRIC_STATUS += [
    (
        "TestAssessMetricStatusInconclusiveLimit/2",
        {"inconclusiveLimit": 2, "interval": "60s"},
        _INC,
        "Inconclusive",
        "Inconclusive",
    ),
    (
        "TestAssessMetricStatusInconclusiveLimit/3",
        {"inconclusiveLimit": 3, "interval": "60s"},
        _INC,
        "Running",
        "Successful",
    ),
    ("TestAssessMetricStatusConsecutiveErrors/5", {"interval": "60s"}, _ERR, "Error", "Error"),
    (
        "TestAssessMetricStatusConsecutiveErrors/4",
        {"interval": "60s"},
        {**_ERR, "consecutiveError": 4},
        "Running",
        "Successful",
    ),
    (
        "TestAssessMetricStatusCountReached/successful",
        {"count": 10},
        {"measurements": [measurement("Successful")], "successful": 10, "count": 10},
        "Successful",
        "Successful",
    ),
    (
        "TestAssessMetricStatusCountReached/inconclusive",
        {"count": 10},
        {
            "measurements": [measurement("Successful")],
            "successful": 5,
            "inconclusive": 5,
            "count": 10,
        },
        "Inconclusive",
        "Inconclusive",
    ),
]


@pytest.mark.parametrize(
    ("metric", "result", "live", "terminating"),
    [c[1:] for c in METRIC_STATUS],
    ids=[c[0] for c in METRIC_STATUS],
)
def test_assess_metric_status(
    metric: dict[str, Any], result: dict[str, Any], live: str, terminating: str
) -> None:
    metric = {"name": "success-rate", **metric}
    assert assess_metric_status(metric, result, False) == live
    assert assess_metric_status(metric, result, True) == terminating


# --- calculateNextReconcileTime -----------------------------------------------------------------
def test_calculate_next_reconcile_time() -> None:
    """TestCalculateNextReconcileTimeInterval, ...InitialDelay, ...NoInterval, ...EarliestMetric,
    ...UponError: the earliest of the metrics' next measurements (an error retries after 10 s)."""
    interval = run_of(
        [{"name": "m", "interval": "30s"}],
        [{"name": "m", "phase": "Running", "measurements": [measurement("Successful", 10)]}],
    )
    assert calculate_next_reconcile_time(interval, interval["spec"]["metrics"], NOW) == NOW + 20
    delayed = run_of([{"name": "m", "initialDelay": "30s"}])
    delayed["status"]["startedAt"] = NOW
    assert calculate_next_reconcile_time(delayed, delayed["spec"]["metrics"], NOW) == NOW + 30
    once = run_of(
        [{"name": "m"}],
        [
            {
                "name": "m",
                "phase": "Running",
                "count": 1,
                "measurements": [measurement("Successful", 10)],
            }
        ],
    )
    assert calculate_next_reconcile_time(once, once["spec"]["metrics"], NOW) is None
    two = run_of(
        [{"name": "a", "interval": "30s"}, {"name": "b", "interval": "60s"}],
        [
            {"name": "a", "phase": "Running", "measurements": [measurement("Successful", 10)]},
            {"name": "b", "phase": "Running", "measurements": [measurement("Successful", 10)]},
        ],
    )
    assert calculate_next_reconcile_time(two, two["spec"]["metrics"], NOW) == NOW + 20
    errored = run_of(
        [{"name": "m", "interval": "30s"}],
        [{"name": "m", "phase": "Running", "measurements": [measurement("Error", 5)]}],
    )
    assert calculate_next_reconcile_time(errored, errored["spec"]["metrics"], NOW) == NOW + 5
    resume = run_of(
        [{"name": "m"}],
        [
            {
                "name": "m",
                "phase": "Running",
                "measurements": [dict(measurement("Running", 5, finished=False), resumeAt=NOW + 7)],
            }
        ],
    )
    assert (
        calculate_next_reconcile_time(resume, resume["spec"]["metrics"], NOW) == NOW + 7
    )  # ...HonorResumeAt


# --- reconcile, with a provider that answers what the test says ------------------------------------
class Scripted:
    """A provider whose measurements take the phases it is given, one per call."""

    def __init__(self, *phases: str) -> None:
        self.phases = list(phases)
        self.calls = 0

    def run(self, run: dict[str, Any], metric: dict[str, Any], now: float) -> dict[str, Any]:
        self.calls += 1
        phase = self.phases.pop(0) if len(self.phases) > 1 else self.phases[0]
        return {"phase": phase, "value": "1", "startedAt": now, "finishedAt": now}

    def resume(
        self, run: dict[str, Any], metric: dict[str, Any], m: dict[str, Any], now: float
    ) -> dict[str, Any]:
        return {**m, "phase": self.phases[0], "finishedAt": now}

    def terminate(
        self, run: dict[str, Any], metric: dict[str, Any], m: dict[str, Any], now: float
    ) -> dict[str, Any]:
        return {**m, "phase": self.phases[0], "finishedAt": now}


def drive(run: dict[str, Any], provider: Scripted, until: float = 3600) -> float:
    """Reconcile at each wanted time until the run completes (the controller's requeue)."""
    now = NOW
    while True:
        nxt = reconcile(run, lambda _m: provider, now)
        if (
            run["status"].get("phase") in ("Successful", "Failed", "Error", "Inconclusive")
            or nxt is None
        ):
            return now
        assert nxt <= NOW + until
        now = max(nxt, now) + 0.001


def test_reconcile_analysis_run_initial() -> None:
    """TestReconcileAnalysisRunInitial: one measurement, the run Successful, started and completed."""
    run = run_of([{"name": "success-rate", "provider": {"web": {"url": "x"}}}])
    reconcile(run, lambda _m: Scripted("Successful"), NOW)
    status = run["status"]
    assert status["phase"] == "Successful"
    assert status["startedAt"] == NOW and status["completedAt"] == NOW  # TestCompletedTimeFilled
    assert status["metricResults"][0]["count"] == 1
    assert status["runSummary"] == {
        "count": 1,
        "successful": 1,
        "failed": 0,
        "inconclusive": 0,
        "error": 0,
    }


def test_reconcile_analysis_run_invalid() -> None:
    """TestReconcileAnalysisRunInvalid: no provider -> Error, "Analysis spec invalid"."""
    run = run_of([{"name": "success-rate"}])
    reconcile(run, lambda _m: Scripted("Successful"), NOW)
    assert run["status"]["phase"] == "Error"
    assert run["status"]["message"] == "Analysis spec invalid: metrics[0]: no provider specified"


def test_resolve_metric_args_unable_to_substitute() -> None:
    """TestResolveMetricArgsUnableToSubstitute: an arg the run does not have is an Error."""
    run = run_of(
        [
            {
                "name": "rate",
                "successCondition": "{{args.does-not-exist}}",
                "provider": {"web": {"url": "x"}},
            }
        ]
    )
    reconcile(run, lambda _m: Scripted("Successful"), NOW)
    assert run["status"]["phase"] == "Error"
    assert (
        run["status"]["message"]
        == "Unable to resolve metric arguments: failed to resolve {{args.does-not-exist}}"
    )


def test_a_missing_arg_value_says_which() -> None:
    run = run_of([{"name": "rate", "provider": {"web": {"url": "{{args.url}}"}}}])
    run["spec"]["args"] = [{"name": "url"}]
    reconcile(run, lambda _m: Scripted("Successful"), NOW)
    assert (
        run["status"]["message"]
        == 'Unable to resolve metric arguments: argument "url" was not supplied'
    )


def test_args_are_substituted_json_escaped() -> None:
    metric = {"name": "m", "provider": {"prometheus": {"query": 'rate{version="{{args.v}}"}'}}}
    resolved = resolve_metric_args(metric, [{"name": "v", "value": 'a"b'}])
    assert resolved["provider"]["prometheus"]["query"] == 'rate{version="a"b"}'


def test_reconcile_terminate_sibling_after_fail() -> None:
    """TestReconcileAnalysisRunTerminateSiblingAfterFail: a failing metric terminates the
    in-flight sibling ("Metric Terminated") and the run takes the failing phase."""
    for status in ("Failed", "Inconclusive", "Error"):
        run = run_of(
            [
                {"name": "run-forever", "provider": {"job": {}}},
                {"name": "failed-metric", "provider": {"job": {}}},
            ],
            [
                {
                    "name": "run-forever",
                    "phase": "Running",
                    "measurements": [measurement("Running", 0, finished=False)],
                },
                {
                    "name": "failed-metric",
                    "phase": status,
                    "count": 1,
                    "measurements": [measurement(status)],
                },
            ],
        )
        reconcile(run, lambda _m: Scripted("Inconclusive"), NOW)
        results = run["status"]["metricResults"]
        assert run["status"]["phase"] == status
        assert results[0]["phase"] == "Inconclusive"
        assert results[0]["measurements"][0]["message"] == "Metric Terminated"
        assert results[0]["message"] == "Metric Terminated"


def test_reconcile_resume_in_progress() -> None:
    """TestReconcileAnalysisRunResumeInProgress"""
    run = run_of(
        [{"name": "success-rate", "provider": {"job": {}}}],
        [
            {
                "name": "success-rate",
                "phase": "Running",
                "measurements": [measurement("Running", 0, finished=False)],
            }
        ],
    )
    reconcile(run, lambda _m: Scripted("Successful"), NOW)
    assert run["status"]["phase"] == "Successful"
    assert run["status"]["metricResults"][0]["measurements"][0]["finishedAt"] == NOW


def test_run_measurements_reset_consecutive_error_counter() -> None:
    """TestRunMeasurementsResetConsecutiveErrorCounter: any completed measurement clears it."""
    for phase in ("Successful", "Failed", "Inconclusive"):
        run = run_of(
            [
                {
                    "name": "m",
                    "interval": "60s",
                    "failureLimit": 5,
                    "inconclusiveLimit": 5,
                    "provider": {"web": {}},
                }
            ],
            [
                {
                    "name": "m",
                    "phase": "Running",
                    "consecutiveError": 4,
                    "error": 4,
                    "measurements": [measurement("Error", 61)],
                }
            ],
        )
        reconcile(run, lambda _m, p=phase: Scripted(p), NOW)
        assert run["status"]["metricResults"][0]["consecutiveError"] == 0


def test_consecutive_errors_end_in_error_after_the_limit() -> None:
    """An unreachable provider: Error after consecutiveErrorLimit (4) + 1 errors, retried every 10 s."""
    provider = Scripted("Error")
    run = run_of([{"name": "error-rate", "interval": "5m", "provider": {"prometheus": {}}}])
    finished = drive(run, provider)
    assert provider.calls == 5
    assert finished == pytest.approx(NOW + 40, abs=0.01)
    assert run["status"]["phase"] == "Error"
    assert run["status"]["message"] == (
        'Metric "error-rate" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4)'
    )


def test_count_interval_and_failure_limit() -> None:
    """count 3 every 10s with failureLimit 1: one failure is tolerated, the second fails the run."""
    metric = {
        "name": "m",
        "count": 3,
        "interval": "10s",
        "failureLimit": 1,
        "provider": {"web": {}},
    }
    ok = run_of([dict(metric)])
    drive(ok, Scripted("Failed", "Successful", "Successful"))
    assert ok["status"]["phase"] == "Successful"
    bad = run_of([dict(metric)])
    drive(bad, Scripted("Failed", "Successful", "Failed"))
    assert bad["status"]["phase"] == "Failed"
    assert (
        bad["status"]["message"]
        == 'Metric "m" assessed Failed due to failed (2) > failureLimit (1)'
    )


def test_trim_measurement_history() -> None:
    """TestTrimMeasurementHistory, with measurementRetention."""
    run = run_of([{"name": "m", "interval": "1s", "count": 12, "provider": {"web": {}}}])
    drive(run, Scripted("Successful"))
    assert len(run["status"]["metricResults"][0]["measurements"]) == 10
    kept = run_of([{"name": "m", "interval": "1s", "count": 12, "provider": {"web": {}}}])
    kept["spec"]["measurementRetention"] = [{"metricName": "m", "limit": 12}]
    drive(kept, Scripted("Successful"))
    assert len(kept["status"]["metricResults"][0]["measurements"]) == 12


def test_assess_run_status_dry_run() -> None:
    """TestAssessRunStatusErrorMessageAnalysisPhaseFail / ...InDryRunMode"""
    metrics = [{"name": "run-forever"}, {"name": "failed-metric"}]
    results = [
        {
            "name": "run-forever",
            "phase": "Successful",
            "count": 1,
            "successful": 1,
            "measurements": [measurement("Successful")],
        },
        {
            "name": "failed-metric",
            "phase": "Running",
            "count": 1,
            "failed": 1,
            "measurements": [measurement("Failed")],
        },
    ]
    run = run_of(metrics, [dict(r) for r in results])
    phase, message = assess_run_status(run, metrics, {}, NOW)
    assert (phase, message) == (
        "Failed",
        'Metric "failed-metric" assessed Failed due to failed (1) > failureLimit (0)',
    )
    dry = run_of(metrics, [dict(r) for r in results])
    phase, message = assess_run_status(dry, metrics, {"failed-metric": True}, NOW)
    assert (phase, message) == ("Successful", "")
    assert dry["status"]["dryRunSummary"] == {
        "count": 1,
        "successful": 0,
        "failed": 1,
        "inconclusive": 0,
        "error": 0,
    }


def test_invalid_dry_run_and_retention_config() -> None:
    """TestInvalidDryRunConfigThrowsError, TestInvalidMeasurementsRetentionConfigThrowsError"""
    for key, words in (
        ("dryRun", "dryRun[0]"),
        ("measurementRetention", "measurementRetention[0]"),
    ):
        run = run_of([{"name": "m", "provider": {"web": {}}}])
        run["spec"][key] = [{"metricName": "error-rate", "limit": 2}]
        reconcile(run, lambda _m: Scripted("Successful"), NOW)
        assert run["status"]["phase"] == "Error"
        assert (
            run["status"]["message"]
            == f"Analysis spec invalid: {words}: Rule didn't match any metric name(s)"
        )


def test_terminate_analysis_run() -> None:
    """TestTerminateAnalysisRun: terminate before any measurement -> Successful "Run Terminated"."""
    run = run_of([{"name": "m", "interval": "1m", "provider": {"web": {}}}])
    run["spec"]["terminate"] = True
    reconcile(run, lambda _m: Scripted("Failed"), NOW)
    assert (run["status"]["phase"], run["status"]["message"]) == ("Successful", "Run Terminated")


@pytest.mark.parametrize(
    ("metric", "words"),
    [
        ({"count": 2}, "interval must be specified when count > 1"),
        ({"failureLimit": -1}, "failureLimit and consecutiveSuccessLimit cannot both be disabled"),
        (
            {"count": 1, "failureLimit": 2, "interval": "1m"},
            "count (1) must be >= failureLimit + consecutiveSuccessLimit (2 + 0) if both >= 0",
        ),
        ({"interval": "5 minutes"}, 'invalid interval string: time: invalid duration "5 minutes"'),
        ({"inconclusiveLimit": -1}, "inconclusiveLimit must be >= 0"),
    ],
)
def test_validate_metric(metric: dict[str, Any], words: str) -> None:
    """utils/analysis ValidateMetric, the rows a template author meets."""
    with pytest.raises(ValueError) as err:
        validate_metric({"name": "m", "provider": {"web": {}}, **metric})
    assert str(err.value) == words


def test_parse_duration() -> None:
    assert parse_duration("1m30s") == 90
    assert parse_duration("1.5h") == 5400
    assert parse_duration("250ms") == 0.25
    with pytest.raises(ValueError, match="missing unit"):
        parse_duration("30")
