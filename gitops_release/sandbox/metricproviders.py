"""The metric providers the sandbox's analysis controller measures with, ported from argo-rollouts
``metricproviders/webmetric`` and ``metricproviders/prometheus`` (9f8d111d8): each takes one
measurement over real HTTP (urllib: the sandbox keeps its own adapters) and evaluates the metric's
conditions on the result (:mod:`.evaluate`).

- ``web``: ``url``, ``method`` (GET, POST, PUT), ``headers``, ``body`` / ``jsonBody``,
  ``timeoutSeconds`` (10), ``jsonPath`` (``{$.data.ok}``; the whole body without one). A non-2xx
  answer, a refused connection or a path that finds nothing is an Error measurement.
- ``prometheus``: ``address``, ``query``, ``timeout`` (30 s) against ``/api/v1/query``; a vector
  or matrix is ``[]float64`` (empty when nothing matched), a scalar a float.
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from gitops_release.sandbox.analysisspec import ERROR, RUNNING, SUCCESSFUL, Provider, ProviderFor
from gitops_release.sandbox.evaluate import evaluate_result


def _mark_error(measurement: dict[str, Any], message: str, now: float) -> dict[str, Any]:
    return {**measurement, "phase": ERROR, "message": message, "finishedAt": now}


def _with_phase(
    measurement: dict[str, Any], metric: dict[str, Any], result: Any, value: str, now: float
) -> dict[str, Any]:
    phase, message = evaluate_result(result, metric)
    done = {**measurement, "value": value, "phase": phase, "finishedAt": now}
    if message:
        done["message"] = message
    return done


def _fetch(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read()


def _reason(err: Exception) -> str:
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err)


def _redact(url: str) -> str:
    """A URL as a message may show it: credentials and query values out."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


class _Stateless:
    """Web and Prometheus measure within run(): nothing to resume or terminate."""

    def resume(
        self, run: dict[str, Any], metric: dict[str, Any], m: dict[str, Any], now: float
    ) -> dict[str, Any]:
        return m

    def terminate(
        self, run: dict[str, Any], metric: dict[str, Any], m: dict[str, Any], now: float
    ) -> dict[str, Any]:
        return m


# --- web --------------------------------------------------------------------------------------
_JSONPATH_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(-?\d+)\]|\[['\"]([^'\"]+)['\"]\]")


def json_path(data: Any, path: str) -> Any:
    """The subset of Kubernetes JSONPath a web metric uses: ``{$.a.b[0]}``, ``{$}``, ``{.a}``."""
    expr = path.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1].strip()
    expr = expr[1:] if expr.startswith("$") else expr
    pos, value = 0, data
    for match in _JSONPATH_STEP.finditer(expr):
        if match.start() != pos:
            raise ValueError(f"unrecognized character in action: {expr[pos:]!r}")
        pos = match.end()
        key, index, quoted = match.groups()
        if index is not None:
            if not isinstance(value, list) or not -len(value) <= int(index) < len(value):
                raise ValueError(f"array index out of bounds: index {index}")
            value = value[int(index)]
        else:
            name = key if key is not None else quoted
            if not isinstance(value, dict) or name not in value:
                raise ValueError(f"{name} is not found")
            value = value[name]
    if pos != len(expr):
        raise ValueError(f"unrecognized character in action: {expr[pos:]!r}")
    return value


class WebProvider(_Stateless):
    def run(self, run: dict[str, Any], metric: dict[str, Any], now: float) -> dict[str, Any]:
        web = (metric.get("provider") or {}).get("web") or {}
        measurement: dict[str, Any] = {"startedAt": now}
        method = str(web.get("method") or "GET").upper()
        body, json_body = web.get("body") or "", web.get("jsonBody")
        if body and json_body is not None:
            return _mark_error(
                measurement,
                "use either Body or JSONBody; both cannot exists for WebMetric payload",
                now,
            )
        if (body or json_body is not None) and method == "GET":
            return _mark_error(
                measurement,
                "Body/JSONBody can only be used with POST or PUT WebMetric Method types",
                now,
            )
        data = json.dumps(json_body).encode() if json_body is not None else body.encode() or None
        url = str(web.get("url") or "")
        request = urllib.request.Request(url, data=data, method=method)
        for header in web.get("headers") or []:
            request.add_header(str(header.get("key")), str(header.get("value")))
        if json_body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            status, raw = _fetch(request, float(web.get("timeoutSeconds") or 10))
        except (OSError, ValueError) as err:
            return _mark_error(measurement, f'Get "{_redact(url)}": {_reason(err)}', now)
        if not 200 <= status < 300:
            return _mark_error(measurement, f"received non 2xx response code: {status}", now)
        text = raw.decode("utf-8", "replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            return _with_phase(measurement, metric, text, text, now)
        try:
            value = json_path(parsed, str(web.get("jsonPath") or "{$}"))
        except ValueError as err:
            return _mark_error(measurement, f"Could not find JSONPath in body: {err}", now)
        return _with_phase(
            measurement, metric, value, json.dumps(value, separators=(",", ":")), now
        )


# --- prometheus -------------------------------------------------------------------------------
def _sample(text: str) -> float:
    return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}.get(text) or float(text)


class PrometheusProvider(_Stateless):
    def run(self, run: dict[str, Any], metric: dict[str, Any], now: float) -> dict[str, Any]:
        prom = (metric.get("provider") or {}).get("prometheus") or {}
        measurement: dict[str, Any] = {"startedAt": now}
        address = str(prom.get("address") or "").rstrip("/")
        url = f"{address}/api/v1/query?" + urllib.parse.urlencode(
            {"query": prom.get("query") or ""}
        )
        timeout = float(prom.get("timeout") or 30)
        try:
            status, raw = _fetch(urllib.request.Request(url), timeout)
        except (OSError, ValueError) as err:
            return _mark_error(
                measurement, f'Post "{_redact(address)}/api/v1/query": {_reason(err)}', now
            )
        try:
            answer = json.loads(raw)
        except ValueError:
            return _mark_error(measurement, f"server_error: server error: {status}", now)
        if answer.get("status") != "success":
            return _mark_error(
                measurement, f"{answer.get('errorType')}: {answer.get('error')}", now
            )
        data = answer.get("data") or {}
        kind, result = data.get("resultType"), data.get("result")
        result = result if isinstance(result, list) else []
        if kind == "scalar":
            return _with_phase(measurement, metric, _sample(result[1]), str(result[1]), now)
        if kind in ("vector", "matrix"):
            texts = []
            for series in result or []:
                texts += (
                    [series["value"][1]] if kind == "vector" else [v[1] for v in series["values"]]
                )
            return _with_phase(
                measurement, metric, [_sample(t) for t in texts], "[" + ",".join(texts) + "]", now
            )
        return _mark_error(measurement, "Prometheus metric type not supported", now)


def provider_for(metric: dict[str, Any]) -> Provider:
    """The provider a metric names (upstream's ProviderFactory); ValueError when none is served."""
    provider = metric.get("provider") or {}
    if provider.get("web") is not None:
        return WebProvider()
    if provider.get("prometheus") is not None:
        if not (provider["prometheus"].get("address")):
            raise ValueError("prometheus address is not configured")
        return PrometheusProvider()
    kinds = ", ".join(sorted(k for k, v in provider.items() if v is not None)) or "none"
    raise ValueError(
        f"no valid provider in metric '{metric.get('name')}' ({kinds}): the sandbox serves web and prometheus"
    )


# --- measurements taken before the pass ---------------------------------------------------------
MeasurementKey = tuple[str, str, str]  # namespace, AnalysisRun, metric
Measured = dict[MeasurementKey, dict[str, Any]]


def measurement_key(run: dict[str, Any], metric: dict[str, Any]) -> MeasurementKey:
    meta = run.get("metadata") or {}
    return (str(meta.get("namespace", "")), str(meta.get("name", "")), str(metric.get("name")))


class Taken:
    """A provider for the analysis pass under the sandbox's lock: it hands over measurements
    taken just before, outside the lock (a web metric may ask the sandbox itself, whose
    handlers need that lock). A metric due without one is in flight, as an asynchronous
    provider's (a Job's) would be, and is taken before the next pass."""

    def __init__(self, measured: Measured) -> None:
        self.measured = measured

    def run(self, run: dict[str, Any], metric: dict[str, Any], now: float) -> dict[str, Any]:
        taken = self.measured.pop(measurement_key(run, metric), None)
        return taken if taken is not None else {"startedAt": now, "phase": RUNNING}

    def resume(
        self, run: dict[str, Any], metric: dict[str, Any], m: dict[str, Any], now: float
    ) -> dict[str, Any]:
        taken = self.measured.pop(measurement_key(run, metric), None)
        return taken if taken is not None else m

    def terminate(
        self, run: dict[str, Any], metric: dict[str, Any], m: dict[str, Any], now: float
    ) -> dict[str, Any]:
        # The in-flight measurement is dropped as the job provider's is: Successful, and the
        # analysis controller notes "Metric Terminated".
        return {**m, "phase": SUCCESSFUL, "finishedAt": now}


def taken_from(measured: Measured, providers: ProviderFor = provider_for) -> ProviderFor:
    """A ProviderFor for the locked pass: the metric's provider is still checked (a metric no
    provider serves errors as before), its measurement comes from ``measured``."""

    def pick(metric: dict[str, Any]) -> Provider:
        providers(metric)
        return Taken(measured)

    return pick
