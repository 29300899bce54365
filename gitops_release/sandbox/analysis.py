"""The analysis controller: one reconcile of an AnalysisRun, ported from argo-rollouts
``analysis/analysis.go`` (9f8d111d8) in our own code, in upstream's order: resolve the args,
validate, pick the metrics due (``generateMetricTasks``), measure them (``runMeasurements``),
assess each metric and the run (``assessMetricStatus``, ``assessRunStatus``), trim the
measurement history, and say when the run wants its next pass (``calculateNextReconcileTime``).

Times are controller seconds; a run is its wire form as a dict (see :mod:`.analysisspec`).
"""

from __future__ import annotations

from typing import Any

from gitops_release.sandbox.analysisspec import (
    COMPLETED,
    DEFAULT_ERROR_RETRY_INTERVAL,
    DEFAULT_MEASUREMENT_HISTORY_LIMIT,
    ERROR,
    FAILED,
    INCONCLUSIVE,
    PENDING,
    RUNNING,
    SUCCESSFUL,
    ProviderFor,
    SecretLookup,
    _int,
    consecutive_error_limit,
    effective_count,
    get_result,
    is_terminating,
    is_worse,
    last_measurement,
    metric_completed,
    named_rules,
    parse_duration,
    resolve_metric_args,
    resolved_metrics,
    set_result,
    validate_metrics,
)

Task = tuple[dict[str, Any], dict[str, Any] | None]  # (metric, in-progress measurement)


def reconcile(
    run: dict[str, Any],
    provider_for: ProviderFor,
    now: float,
    *,
    secret: SecretLookup | None = None,
) -> float | None:
    """One pass over ``run`` (changed in place); returns when the next pass is due, if ever."""
    status = run.setdefault("status", {})
    if status.get("phase") in COMPLETED:
        return None
    status.setdefault("metricResults", [])
    try:
        metrics = resolved_metrics(run)
    except ValueError as err:
        _error(run, f"Unable to resolve metric arguments: {err}", now)
        return None
    try:
        validate_metrics(metrics)
        dry_run = named_rules(run["spec"].get("dryRun"), metrics, "dryRun")
        retention = named_rules(
            run["spec"].get("measurementRetention"), metrics, "measurementRetention"
        )
    except ValueError as err:
        _error(run, f"Analysis spec invalid: {err}", now)
        return None
    tasks = generate_metric_tasks(run, metrics, now)
    try:
        run_measurements(run, tasks, provider_for, {n: True for n in dry_run}, now, secret)
    except (ValueError, KeyError) as err:
        _error(run, f"Unable to resolve metric arguments: {_text(err)}", now)
        return None
    phase, message = assess_run_status(run, metrics, {n: True for n in dry_run}, now)
    if phase != status.get("phase"):
        status["phase"] = phase
        status["message"] = message
        if phase in COMPLETED and status.get("completedAt") is None:
            status["completedAt"] = now
    limits = {n: _int(e.get("limit")) for n, e in retention.items()}
    garbage_collect_measurements(run, limits, DEFAULT_MEASUREMENT_HISTORY_LIMIT)
    return calculate_next_reconcile_time(run, metrics, now)


def due_measurements(run: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """The resolved metrics whose measurement the next pass over ``run`` takes (a new one, or
    one still in flight), so a caller can take them before that pass, outside its lock. A run
    that cannot resolve or validate has none (its pass errors it)."""
    run = {**run, "status": dict(run.get("status") or {})}
    if run["status"].get("phase") in COMPLETED or is_terminating(run):
        return []
    try:
        metrics = resolved_metrics(run)
        validate_metrics(metrics)
        tasks = generate_metric_tasks(run, metrics, now)
        args, _ = _resolve_args(run, None)
        return [resolve_metric_args(metric, args) for metric, _ in tasks]
    except (ValueError, KeyError):
        return []


def _text(err: Exception) -> str:
    return str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)


def _error(run: dict[str, Any], message: str, now: float) -> None:
    run["status"]["phase"] = ERROR
    run["status"]["message"] = message
    run["status"].setdefault("completedAt", now)


def generate_metric_tasks(
    run: dict[str, Any], metrics: list[dict[str, Any]], now: float
) -> list[Task]:
    tasks: list[Task] = []
    terminating = is_terminating(run)
    spec_metrics = run["spec"].get("metrics") or []
    for i, metric in enumerate(metrics):
        name = metric["name"]
        if metric_completed(run, name):
            continue
        last = last_measurement(run, name)
        if last is not None and last.get("finishedAt") is None:
            if not terminating and last.get("resumeAt") is not None and last["resumeAt"] > now:
                continue
            tasks.append((spec_metrics[i], last))  # resume (or terminate) the in-flight one
            continue
        if terminating:
            continue
        if last is None:
            if metric.get("initialDelay"):
                started = run["status"].get("startedAt")
                if started is None:
                    continue
                try:
                    delay = parse_duration(str(metric["initialDelay"]))
                except ValueError:
                    continue
                if started + delay > now:
                    continue
            tasks.append((spec_metrics[i], None))
            continue
        result = get_result(run, name) or {}
        count = effective_count(metric)
        if count is not None and _int(result.get("count")) >= count:
            continue
        interval = DEFAULT_ERROR_RETRY_INTERVAL
        if last.get("phase") != ERROR and metric.get("interval"):
            try:
                interval = parse_duration(str(metric["interval"]))
            except ValueError:
                continue
        if now > last["finishedAt"] + interval:
            tasks.append((spec_metrics[i], None))
    return tasks


def _resolve_args(
    run: dict[str, Any], secret: SecretLookup | None
) -> tuple[list[dict[str, Any]], list[str]]:
    args, secrets = [], []
    for arg in run["spec"].get("args") or []:
        ref = (arg.get("valueFrom") or {}).get("secretKeyRef")
        if ref is not None:
            if secret is None:
                raise KeyError(f'secrets "{ref.get("name")}" not found')
            value = secret(str(ref.get("name")), str(ref.get("key")))
            secrets.append(value)
            arg = {"name": arg["name"], "value": value}
        args.append(arg)
    return args, secrets


def run_measurements(
    run: dict[str, Any],
    tasks: list[Task],
    provider_for: ProviderFor,
    dry_run: dict[str, bool],
    now: float,
    secret: SecretLookup | None = None,
) -> None:
    terminating = is_terminating(run)
    args, secrets = _resolve_args(run, secret)
    for spec_metric, incomplete in tasks:
        metric = resolve_metric_args(spec_metric, args)
        provider = None
        try:
            provider = provider_for(metric)
        except ValueError as err:
            measurement: dict[str, Any] = dict(incomplete) if incomplete else {"startedAt": now}
            measurement["phase"] = ERROR
            measurement["message"] = str(err)
        else:
            if incomplete is None:
                measurement = provider.run(run, metric, now)
            elif terminating:
                measurement = provider.terminate(run, metric, incomplete, now)
                if measurement.get("phase") in (SUCCESSFUL, INCONCLUSIVE):
                    measurement["message"] = "Metric Terminated"
            else:
                measurement = provider.resume(run, metric, incomplete, now)
        result = get_result(run, metric["name"])
        if result is None:
            result = {"name": metric["name"], "phase": RUNNING}
            if dry_run.get(metric["name"]):
                result["dryRun"] = True
            metadata = getattr(provider, "metadata", None)
            if callable(metadata) and metadata(metric):
                result["metadata"] = metadata(metric)
        phase = measurement.get("phase")
        if phase in COMPLETED:
            measurement.setdefault("finishedAt", now)
            if measurement["finishedAt"] is None:
                measurement["finishedAt"] = now
            _count(result, str(phase))
        for value in secrets:
            if value and measurement.get("message"):
                measurement["message"] = str(measurement["message"]).replace(value, "*****")
        measurements = list(result.get("measurements") or [])
        if incomplete is None:
            measurements.append(measurement)
        else:
            measurements[-1] = measurement
        result["measurements"] = measurements
        set_result(run, result)


def _count(result: dict[str, Any], phase: str) -> None:
    def bump(key: str) -> None:
        result[key] = _int(result.get(key)) + 1

    if phase == ERROR:
        bump("error")
        bump("consecutiveError")
        result["consecutiveSuccess"] = 0
        return
    bump({SUCCESSFUL: "successful", FAILED: "failed", INCONCLUSIVE: "inconclusive"}[phase])
    bump("count")
    result["consecutiveError"] = 0
    if phase == SUCCESSFUL:
        bump("consecutiveSuccess")
    else:
        result["consecutiveSuccess"] = 0


def assess_metric_failure_inconclusive_or_error(
    metric: dict[str, Any], result: dict[str, Any]
) -> tuple[str, str]:
    phase = message = ""
    failure_limit = _int(metric.get("failureLimit"))
    failed = _int(result.get("failed"))
    if failure_limit >= 0 and failed > failure_limit:
        phase, message = FAILED, f"failed ({failed}) > failureLimit ({failure_limit})"
    inconclusive_limit = _int(metric.get("inconclusiveLimit"))
    inconclusive = _int(result.get("inconclusive"))
    if inconclusive > inconclusive_limit:
        phase = INCONCLUSIVE
        message = f"inconclusive ({inconclusive}) > inconclusiveLimit ({inconclusive_limit})"
    error_limit = consecutive_error_limit(metric)
    errors = _int(result.get("consecutiveError"))
    if errors > error_limit:
        phase = ERROR
        message = f"consecutiveErrors ({errors}) > consecutiveErrorLimit ({error_limit})"
    return phase, message


def assess_metric_status(metric: dict[str, Any], result: dict[str, Any], terminating: bool) -> str:
    if result.get("phase") in COMPLETED:
        return str(result["phase"])
    measurements = result.get("measurements") or []
    if not measurements:
        return SUCCESSFUL if terminating else PENDING
    if measurements[-1].get("phase") not in COMPLETED:
        return RUNNING
    phase, _ = assess_metric_failure_inconclusive_or_error(metric, result)
    if phase:
        return phase
    success_limit = _int(metric.get("consecutiveSuccessLimit"))
    if success_limit > 0 and _int(result.get("consecutiveSuccess")) >= success_limit:
        return SUCCESSFUL
    count = effective_count(metric)
    if count is not None and _int(result.get("count")) >= count:
        failure_applicable = (
            metric.get("failureLimit") is None or _int(metric.get("failureLimit")) >= 0
        )
        if success_limit > 0:
            return INCONCLUSIVE if failure_applicable else FAILED
        return SUCCESSFUL
    return SUCCESSFUL if terminating else RUNNING


def assess_run_status(
    run: dict[str, Any], metrics: list[dict[str, Any]], dry_run: dict[str, bool], now: float
) -> tuple[str, str]:
    status = run["status"]
    terminating = is_terminating(run)
    if status.get("startedAt") is None:
        status["startedAt"] = now
    worst, worst_message = "", "Run Terminated" if run["spec"].get("terminate") else ""
    everything_completed = True
    summary = dict.fromkeys(("count", "successful", "failed", "inconclusive", "error"), 0)
    dry_summary = dict(summary)
    for metric in metrics:
        name = metric["name"]
        (dry_summary if dry_run.get(name) else summary)["count"] += 1
        result = get_result(run, name)
        if result is None:
            everything_completed = False  # not started yet (an initialDelay)
            continue
        metric_status = assess_metric_status(metric, result, terminating)
        if result.get("phase") != metric_status:
            last = last_measurement(run, name)
            if last is not None:
                result["message"] = last.get("message", "")
            result["phase"] = metric_status
            set_result(run, result)
        if metric_status not in COMPLETED:
            everything_completed = False
            continue
        phase, message = assess_metric_failure_inconclusive_or_error(metric, result)
        key = {ERROR: "error", FAILED: "failed", INCONCLUSIVE: "inconclusive"}.get(
            phase, "successful"
        )
        if not dry_run.get(name):
            if not worst or is_worse(worst, metric_status):
                worst = metric_status
                if message:
                    worst_message = f'Metric "{name}" assessed {metric_status} due to {message}'
                    if result.get("message"):
                        worst_message += f': "Error Message: {result["message"]}"'
            summary[key] += 1
        else:
            if not worst:
                worst = SUCCESSFUL
            if message:
                result["message"] = f"Metric assessed {metric_status} due to {message}"
                set_result(run, result)
            dry_summary[key] += 1
    worst_message = worst_message.strip()
    status["runSummary"] = summary
    status["dryRunSummary"] = dry_summary
    if terminating:
        return (worst or SUCCESSFUL), worst_message
    if not everything_completed or not worst:
        return RUNNING, ""
    return worst, worst_message


def calculate_next_reconcile_time(
    run: dict[str, Any], metrics: list[dict[str, Any]], now: float
) -> float | None:
    best: float | None = None

    def consider(moment: float) -> None:
        nonlocal best
        if best is None or moment < best:
            best = moment

    for metric in metrics:
        name = metric["name"]
        if metric_completed(run, name):
            continue
        last = last_measurement(run, name)
        if last is None:
            if metric.get("initialDelay"):
                try:
                    delay = parse_duration(str(metric["initialDelay"]))
                except ValueError:
                    continue
                started = run["status"].get("startedAt")
                consider((now if started is None else started) + delay)
            continue
        if last.get("finishedAt") is None:
            if last.get("resumeAt") is not None:
                consider(last["resumeAt"])
            continue
        result = get_result(run, name) or {}
        count = effective_count(metric)
        if count is not None and _int(result.get("count")) >= count:
            continue
        if last.get("phase") == ERROR:
            interval = DEFAULT_ERROR_RETRY_INTERVAL
        elif metric.get("interval"):
            try:
                interval = parse_duration(str(metric["interval"]))
            except ValueError:
                continue
        else:
            continue
        consider(last["finishedAt"] + interval)
    return best


def garbage_collect_measurements(run: dict[str, Any], limits: dict[str, int], limit: int) -> None:
    for result in run["status"].get("metricResults") or []:
        keep = limits.get(result["name"]) or limit
        measurements = result.get("measurements") or []
        if len(measurements) > keep:
            result["measurements"] = measurements[len(measurements) - keep :]
