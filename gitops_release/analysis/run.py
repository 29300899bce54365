"""Run an AnalysisTemplate's metrics from the CI job with the analysis controller's semantics
(argo-rollouts ``analysis/analysis.go``): each metric measured after its ``initialDelay``, then
every ``interval`` until its ``count``; assessed after each measurement against ``failureLimit``,
``inconclusiveLimit``, ``consecutiveErrorLimit`` (4 by default) and ``consecutiveSuccessLimit``.
The first metric that ends Failed, Error or Inconclusive ends the run (upstream terminates the
others); the run's phase is the worst of its metrics' (Successful < Inconclusive < Error < Failed).

Every measurement is said as it comes. The command's ``--timeout`` bounds it all: a measurement
that would start past the deadline is not taken, and the run ends in :class:`TimedOut`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitops_release.analysis.condition import ERROR, FAILED, INCONCLUSIVE, SUCCESSFUL
from gitops_release.analysis.providers import Measurement, measure, shown
from gitops_release.analysis.template import Metric, Template
from gitops_release.errors import Failed, TimedOut
from gitops_release.output import Output

PENDING, RUNNING = "Pending", "Running"
ORDER = (PENDING, RUNNING, SUCCESSFUL, INCONCLUSIVE, ERROR, FAILED)
ENDED = (SUCCESSFUL, INCONCLUSIVE, ERROR, FAILED)


@dataclass
class MetricRun:
    """One metric's results so far (upstream's ``MetricResult``)."""

    metric: Metric
    taken: list[Measurement] = field(default_factory=list)
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    consecutive_success: int = 0
    count: int = 0
    """Measurements that count towards the metric's ``count``: every phase but Error (upstream)."""
    phase: str = PENDING
    message: str = ""
    next_at: float = 0.0

    def add(self, m: Measurement) -> None:
        self.taken.append(m)
        key = {SUCCESSFUL: "successful", FAILED: "failed", INCONCLUSIVE: "inconclusive"}
        setattr(self, key.get(m.phase, "error"), getattr(self, key.get(m.phase, "error")) + 1)
        self.count += m.phase != ERROR
        self.consecutive_error = self.consecutive_error + 1 if m.phase == ERROR else 0
        self.consecutive_success = self.consecutive_success + 1 if m.phase == SUCCESSFUL else 0

    @property
    def last(self) -> Measurement | None:
        return self.taken[-1] if self.taken else None

    def counts(self) -> str:
        parts = [
            f"{n} {label}"
            for label, n in (
                ("successful", self.successful),
                ("failed", self.failed),
                ("inconclusive", self.inconclusive),
                ("error", self.error),
            )
            if n
        ]
        head = f"{self.count} of {self.metric.count} measurements"
        return head + (f" ({', '.join(parts)})" if parts else "")

    def describe(self) -> str:
        """``metric "error-rate" (successCondition: result[0] < 0.01): last value [0.2] (Failed)``."""
        conditions = [
            f"{label}: {c.text}"
            for label, c in (
                ("successCondition", self.metric.success),
                ("failureCondition", self.metric.failure),
            )
            if c is not None
        ]
        text = f'metric "{self.metric.name}"' + (
            f" ({'; '.join(conditions)})" if conditions else ""
        )
        last = self.last
        if last is None:
            return text + ": no measurement"
        text += f": last value {last.value or '(none)'} ({last.phase}"
        return text + (f": {last.message})" if last.message else ")")

    def payload(self) -> dict[str, Any]:
        last = self.last
        return {
            "name": self.metric.name,
            "provider": self.metric.provider,
            "phase": self.phase,
            "message": self.message,
            "successCondition": self.metric.success.text if self.metric.success else "",
            "failureCondition": self.metric.failure.text if self.metric.failure else "",
            "count": self.metric.count,
            "measured": self.count,
            "taken": len(self.taken),
            "successful": self.successful,
            "failed": self.failed,
            "inconclusive": self.inconclusive,
            "error": self.error,
            "last": None
            if last is None
            else {"phase": last.phase, "value": last.value, "message": last.message},
        }


def assess(run: MetricRun) -> tuple[str, str]:
    """assessMetricStatus: the metric's phase after its latest measurement, and why."""
    m = run.metric
    if not run.taken:
        return PENDING, ""
    phase = why = ""
    if m.failure_limit >= 0 and run.failed > m.failure_limit:
        phase, why = FAILED, f"failed ({run.failed}) > failureLimit ({m.failure_limit})"
    if run.inconclusive > m.inconclusive_limit:
        phase = INCONCLUSIVE
        why = f"inconclusive ({run.inconclusive}) > inconclusiveLimit ({m.inconclusive_limit})"
    if run.consecutive_error > m.consecutive_error_limit:
        phase = ERROR
        why = (
            f"consecutiveErrors ({run.consecutive_error}) > "
            f"consecutiveErrorLimit ({m.consecutive_error_limit})"
        )
    if phase:
        return phase, why
    limit = m.consecutive_success_limit
    if limit > 0 and run.consecutive_success >= limit:
        return SUCCESSFUL, ""
    if m.count is not None and run.count >= m.count:
        if limit > 0:
            return (INCONCLUSIVE if m.failure_limit >= 0 else FAILED), (
                f"consecutiveSuccessLimit ({limit}) not reached in {m.count} measurements"
            )
        return SUCCESSFUL, ""
    return RUNNING, ""


@dataclass
class AnalysisResult:
    app: str
    template: str
    source: str
    phase: str = RUNNING
    message: str = ""
    metrics: list[MetricRun] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)

    def decider(self) -> MetricRun | None:
        ranked = sorted(self.metrics, key=lambda r: ORDER.index(r.phase), reverse=True)
        return ranked[0] if ranked else None

    def text(self) -> str:
        lines = [f"analysis {self.template} ({self.source}): {self.phase}"]
        lines += [f"  {r.describe()}, {r.counts()}" for r in self.metrics]
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "template": self.template,
            "source": self.source,
            "args": self.args,
            "phase": self.phase,
            "message": self.message,
            "metrics": [r.payload() for r in self.metrics],
            "ok": self.phase == SUCCESSFUL,
        }


def run_template(
    template: Template,
    *,
    app: str,
    deadline: float,
    out: Output,
    verify: bool | str = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    take: Callable[..., Measurement] = measure,
) -> AnalysisResult:
    """Measure until the run ends; Successful returns, anything else raises :class:`Failed`
    (or :class:`TimedOut`) with the result in ``details``."""
    result = AnalysisResult(app, template.name, template.source, args=dict(template.args))
    start = clock()
    result.metrics = [MetricRun(m, next_at=start + m.initial_delay) for m in template.metrics]
    while True:
        waiting = [r for r in result.metrics if r.phase not in ENDED]
        if not waiting:
            break
        run = min(waiting, key=lambda r: r.next_at)
        if run.next_at > deadline:
            result.phase, result.message = RUNNING, "timed out"
            late = TimedOut(
                f"analysis {template.name} did not finish before the deadline: {run.describe()}, "
                f"{run.counts()}; the next measurement was due after it",
                hint="raise --timeout (count x interval must fit)",
            )
            late.details = result.payload()
            raise late
        sleep(max(0.0, run.next_at - clock()))
        m = take(run.metric, verify=verify, cap=max(0.1, deadline - clock()))
        run.add(m)
        run.phase, run.message = assess(run)
        out.progress(f"analysis {template.name}: {run.describe()}, {run.counts()}")
        run.next_at = clock() + run.metric.interval
        if run.phase in (FAILED, ERROR, INCONCLUSIVE):
            break  # upstream terminates the run: the other metrics stop
    for other in result.metrics:
        if other.phase not in ENDED:
            other.phase = SUCCESSFUL  # terminated: what it measured so far did not fail
    decider = result.decider()
    result.phase = decider.phase if decider is not None else SUCCESSFUL
    if decider is not None and decider.message:
        result.message = (
            f'Metric "{decider.metric.name}" assessed {decider.phase} due to {decider.message}'
        )
    if result.phase == SUCCESSFUL:
        return result
    assert decider is not None
    verdict = f"analysis {template.name} {result.phase}: {result.message}; {decider.describe()}"
    err = Failed(verdict, hint=_hint(result.phase, decider.metric))
    err.details = result.payload()
    raise err


def _hint(phase: str, metric: Metric) -> str:
    """What to do next: an Error run could not measure (the provider, not the release, is the
    thing to fix); a Failed one measured the release failing; an Inconclusive one needs a person."""
    if phase == INCONCLUSIVE:
        return "a person must decide: look at the metric, then promote or abort"
    if phase == ERROR:
        if metric.provider == "prometheus":
            where = f"Prometheus at {shown(str(metric.spec.get('address')))}"
        else:
            where = str(shown(str(metric.spec.get("url"))))
        return (
            f"check that {where} is up and reachable from this job, and that the "
            f"{'query' if metric.provider == 'prometheus' else 'answer'} gives a value"
        )
    return f"the {metric.provider} metric is the gate: fix the release or the query"
