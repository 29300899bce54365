"""What an AnalysisRun's spec means before anything is measured, ported from argo-rollouts
``utils/analysis`` and ``utils/template`` (9f8d111d8): phases and their order, durations, metric
validation, ``{{args.NAME}}`` substitution, and the status lookups the controller
(:mod:`gitops_release.sandbox.analysis`) uses.

A run is its wire form (``spec``, ``status``) as a dict, except that times are controller seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

SUCCESSFUL, FAILED, INCONCLUSIVE, ERROR = "Successful", "Failed", "Inconclusive", "Error"
RUNNING, PENDING = "Running", "Pending"
COMPLETED = (SUCCESSFUL, FAILED, INCONCLUSIVE, ERROR)
# best to worst (analysisStatusOrder)
_ORDER = (SUCCESSFUL, RUNNING, PENDING, INCONCLUSIVE, ERROR, FAILED)

DEFAULT_MEASUREMENT_HISTORY_LIMIT = 10
DEFAULT_ERROR_RETRY_INTERVAL = 10.0
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4


class Provider(Protocol):
    """A metric provider (upstream's ``metric.Provider``); times are controller seconds."""

    def run(self, run: dict[str, Any], metric: dict[str, Any], now: float) -> dict[str, Any]: ...

    def resume(
        self, run: dict[str, Any], metric: dict[str, Any], m: dict[str, Any], now: float
    ) -> dict[str, Any]: ...

    def terminate(
        self, run: dict[str, Any], metric: dict[str, Any], m: dict[str, Any], now: float
    ) -> dict[str, Any]: ...


ProviderFor = Callable[[dict[str, Any]], Provider]  # raises ValueError: no usable provider
SecretLookup = Callable[[str, str], str]  # (secret name, key) -> value; raises KeyError(message)


# --- durations and spec checks ---------------------------------------------------------------
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds (``30s``, ``1m30s``, ``1.5h``; ``0``)."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    for match in _PART.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(body):
        if re.fullmatch(r"[\d.]+", body):
            raise ValueError(f'time: missing unit in duration "{text}"')
        raise ValueError(f'time: invalid duration "{text}"')
    return -total if text.startswith("-") else total


def _int(value: Any, default: int = 0) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default  # intstr.IntValue() of a non-numeric string is 0


def effective_count(metric: dict[str, Any]) -> int | None:
    count = _int(metric.get("count"))
    if count == 0:
        return None if metric.get("interval") else 1
    return count


def consecutive_error_limit(metric: dict[str, Any]) -> int:
    if metric.get("consecutiveErrorLimit") is None:
        return DEFAULT_CONSECUTIVE_ERROR_LIMIT
    return _int(metric.get("consecutiveErrorLimit"))


PROVIDERS = (
    *("prometheus", "web", "job", "wavefront", "kayenta", "datadog", "newRelic"),
    *("cloudWatch", "graphite", "influxdb", "skywalking"),
)


def validate_metric(metric: dict[str, Any]) -> None:
    """ValidateMetric; raises ValueError with upstream's words."""
    count = _int(metric.get("count"))
    failure_limit = _int(metric.get("failureLimit"))
    success_limit = _int(metric.get("consecutiveSuccessLimit"))
    inconclusive_limit = _int(metric.get("inconclusiveLimit"))
    if success_limit < 0:
        raise ValueError("consecutiveSuccessLimit must be >= 0")
    if failure_limit < -1:
        raise ValueError("failureLimit must be >= 0, or -1 to be disabled")
    if success_limit == 0 and failure_limit == -1:
        raise ValueError("failureLimit and consecutiveSuccessLimit cannot both be disabled")
    if inconclusive_limit < 0:
        raise ValueError("inconclusiveLimit must be >= 0")
    if metric.get("consecutiveErrorLimit") is not None and consecutive_error_limit(metric) < 0:
        raise ValueError("consecutiveErrorLimit must be >= 0")
    if count > 0:
        if failure_limit >= 0 and count < failure_limit + success_limit:
            raise ValueError(
                f"count ({count}) must be >= failureLimit + consecutiveSuccessLimit"
                f" ({failure_limit} + {success_limit}) if both >= 0"
            )
        if failure_limit < 0 and count < success_limit:
            raise ValueError("count must be >= consecutiveSuccessLimit")
        if count < inconclusive_limit:
            raise ValueError("count must be >= inconclusiveLimit")
    if count > 1 and not metric.get("interval"):
        raise ValueError("interval must be specified when count > 1")
    for key, words in (
        ("interval", "invalid interval string"),
        ("initialDelay", "invalid startDelay string"),
    ):
        if metric.get(key):
            try:
                parse_duration(str(metric[key]))
            except ValueError as err:
                raise ValueError(f"{words}: {err}") from None
    provider = metric.get("provider") or {}
    chosen = [p for p in PROVIDERS if provider.get(p) is not None] + list(
        provider.get("plugin") or {}
    )
    if not chosen:
        raise ValueError("no provider specified")
    if len(chosen) > 1:
        raise ValueError("multiple providers specified")


def validate_metrics(metrics: list[dict[str, Any]]) -> None:
    if not metrics:
        raise ValueError("no metrics specified")
    seen: set[str] = set()
    for i, metric in enumerate(metrics):
        if metric.get("name") in seen:
            raise ValueError(f"metrics[{i}]: duplicate name '{metric.get('name')}'")
        seen.add(str(metric.get("name")))
        try:
            validate_metric(metric)
        except ValueError as err:
            raise ValueError(f"metrics[{i}]: {err}") from None


def named_rules(
    rules: list[dict[str, Any]] | None, metrics: list[dict[str, Any]], what: str
) -> dict[str, dict[str, Any]]:
    """GetDryRunMetrics / GetMeasurementRetentionMetrics: ``metricName`` is a regex, searched."""
    found: dict[str, dict[str, Any]] = {}
    for index, rule in enumerate(rules or []):
        pattern = str(rule.get("metricName") or "")
        matched = [m["name"] for m in metrics if _search(pattern, m["name"])]
        if not matched:
            raise ValueError(f"{what}[{index}]: Rule didn't match any metric name(s)")
        found.update(dict.fromkeys(matched, rule))
    return found


def _search(pattern: str, name: str) -> bool:
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


# --- args --------------------------------------------------------------------------------
_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)


def resolve_metric_args(metric: dict[str, Any], args: list[dict[str, Any]]) -> dict[str, Any]:
    """ResolveMetricArgs: ``{{args.NAME}}`` substituted in the metric's JSON (values escaped)."""
    values: dict[str, str] = {}
    for arg in args:
        if arg.get("value") is None:
            raise ValueError(f'argument "{arg.get("name")}" was not supplied')
        values[f"args.{arg['name']}"] = json.dumps(str(arg["value"]))[1:-1]
    unresolved: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        tag = match.group(1)
        if tag.strip() in values:
            return values[tag.strip()]
        unresolved.append(tag)
        return ""

    text = _TAG.sub(substitute, json.dumps(metric))
    if unresolved:
        raise ValueError(f"failed to resolve {{{{{unresolved[-1]}}}}}")
    resolved: dict[str, Any] = json.loads(text)
    return resolved


def _args_without_secrets(args: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for arg in args:
        if ((arg.get("valueFrom") or {}).get("secretKeyRef")) is not None:
            arg = {"name": arg["name"], "value": "temp-for-secret"}
        out.append(arg)
    return out


def resolved_metrics(run: dict[str, Any]) -> list[dict[str, Any]]:
    args = _args_without_secrets(run["spec"].get("args") or [])
    return [resolve_metric_args(m, args) for m in run["spec"].get("metrics") or []]


# --- status helpers ------------------------------------------------------------------------
def get_result(run: dict[str, Any], name: str) -> dict[str, Any] | None:
    for result in run["status"].get("metricResults") or []:
        if result["name"] == name:
            return dict(result)
    return None


def set_result(run: dict[str, Any], result: dict[str, Any]) -> None:
    results = run["status"].setdefault("metricResults", [])
    for i, existing in enumerate(results):
        if existing["name"] == result["name"]:
            results[i] = result
            return
    results.append(result)


def last_measurement(run: dict[str, Any], name: str) -> dict[str, Any] | None:
    result = get_result(run, name)
    if result and result.get("measurements"):
        last: dict[str, Any] = result["measurements"][-1]
        return last
    return None


def metric_completed(run: dict[str, Any], name: str) -> bool:
    result = get_result(run, name)
    return result is not None and result.get("phase") in COMPLETED


def is_terminating(run: dict[str, Any]) -> bool:
    if run["spec"].get("terminate"):
        return True
    return any(
        not r.get("dryRun") and r.get("phase") in (FAILED, ERROR, INCONCLUSIVE)
        for r in run["status"].get("metricResults") or []
    )


def is_worse(current: str, new: str) -> bool:
    def index(phase: str) -> int:
        return _ORDER.index(phase) if phase in _ORDER else 0

    return index(new) > index(current)
