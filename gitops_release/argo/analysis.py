"""What a blue-green Rollout's pre- and post-promotion AnalysisRuns mean for a target state
(DESIGN.md section 3, issue 15): ``preview-ready`` needs the pre-promotion run Successful,
``released`` the post-promotion run; Failed or Error fails fast naming the metric, its condition
and the last value; Inconclusive stops, because a person must decide (promote or abort).

Pure: the runs are read by the caller (:mod:`gitops_release.argo.wait`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitops_release.argo.model import AnalysisRun, MetricResult, Rollout

PRE, POST = "pre-promotion", "post-promotion"


@dataclass(frozen=True)
class AnalysisVerdict:
    waiting: str = ""
    failed: str = ""
    undecided: str = ""


def _worst(run: AnalysisRun) -> MetricResult | None:
    """The metric that decided (or is deciding) the run's phase."""
    order = ("Failed", "Error", "Inconclusive", "Running", "Pending", "")
    ranked = sorted(
        run.metrics,
        key=lambda m: order.index(m.phase) if m.phase in order else len(order),
    )
    return ranked[0] if ranked else None


def describe_metric(m: MetricResult) -> str:
    """``metric "error-rate" (successCondition: result[0] < 0.01): last value [0.2] (Failed)``."""
    conditions = [
        f"{label}: {text}"
        for label, text in (
            ("successCondition", m.success_condition),
            ("failureCondition", m.failure_condition),
        )
        if text
    ]
    text = f'metric "{m.name}"'
    if conditions:
        text += f" ({'; '.join(conditions)})"
    if m.last is not None:
        text += f": last value {m.last.value or '(none)'} ({m.last.phase or 'Pending'}"
        text += f": {m.last.message})" if m.last.message else ")"
    else:
        text += ": no measurement yet"
    return text


def measurements(m: MetricResult) -> str:
    counts = [
        f"{n} {label}"
        for label, n in (
            ("successful", m.successful),
            ("failed", m.failed),
            ("inconclusive", m.inconclusive),
            ("error", m.error),
        )
        if n
    ]
    of = f" of {m.count}" if m.count else ""
    return f"{m.measured}{of} measurements" + (f" ({', '.join(counts)})" if counts else "")


def judge_run(which: str, run: AnalysisRun, app: str) -> AnalysisVerdict:
    metric = _worst(run)
    about = describe_metric(metric) if metric is not None else "no metric"
    head = f"{which} analysis {run.name}"
    if run.phase in ("Failed", "Error"):
        message = f": {run.message}" if run.message else ""
        taken = f", {measurements(metric)}" if metric is not None else ""
        return AnalysisVerdict(failed=f"{head} {run.phase}{message}; {about}{taken}")
    if run.phase == "Inconclusive":
        return AnalysisVerdict(
            undecided=f"{head} is Inconclusive: {about}; a person must decide: "
            f"promote it (`gitops-release promote {app}`) or abort it (`gitops-release abort {app}`)"
        )
    if run.phase == "Successful":
        return AnalysisVerdict()
    progress = f", {measurements(metric)}" if metric is not None else ""
    return AnalysisVerdict(waiting=f"{head} {run.phase or 'Pending'}: {about}{progress}")


def summary(which: str, run: AnalysisRun) -> str:
    """One progress line for a finished run: ``pre-promotion analysis NAME Successful: metric
    "m" (...): last value 0.001 (Successful), 3 of 3 measurements (3 successful)``."""
    parts = [f"{describe_metric(m)}, {measurements(m)}" for m in run.metrics]
    return f"{which} analysis {run.name} {run.phase or 'Pending'}: " + (
        "; ".join(parts) or "no metric"
    )


def run_payload(which: str, run: AnalysisRun) -> dict[str, Any]:
    """An AnalysisRun in a release record and ``-o json``: its role, name, phase and each
    metric's conditions, counts and last measurement."""
    return {
        "role": which,
        "name": run.name,
        "phase": run.phase,
        "message": run.message,
        "metrics": [
            {
                "name": m.name,
                "phase": m.phase,
                "successCondition": m.success_condition,
                "failureCondition": m.failure_condition,
                "count": m.count,
                "measured": m.measured,
                "successful": m.successful,
                "failed": m.failed,
                "inconclusive": m.inconclusive,
                "error": m.error,
                "message": m.message,
                "last": None
                if m.last is None
                else {"phase": m.last.phase, "value": m.last.value, "message": m.last.message},
            }
            for m in run.metrics
        ],
    }


def current(ro: Rollout, runs: dict[str, AnalysisRun]) -> dict[str, AnalysisRun]:
    """The runs that measure the Rollout's current ReplicaSet (an old revision's do not count)."""
    return {
        which: run
        for which, run in runs.items()
        if not run.pod_hash or not ro.current_pod_hash or run.pod_hash == ro.current_pod_hash
    }
