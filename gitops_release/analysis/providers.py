"""One measurement of a web or prometheus metric from the CI job (argo-rollouts
``metricproviders/webmetric`` and ``metricproviders/prometheus``), through the one HTTP owner.

- ``web``: ``url``, ``method`` (GET, POST, PUT), ``headers``, ``body`` / ``jsonBody``,
  ``timeoutSeconds`` (10), ``jsonPath`` (``{$.data.ok}``; the whole body without one).
- ``prometheus``: ``address``, ``query``, ``timeout`` (30 s) against ``/api/v1/query``; a vector or
  matrix is a list of floats (empty when nothing matched), a scalar a float.

Values and messages are redacted as they are made (a server that echoes a token header or the
Prometheus password gets it masked). A refused connection, a non-2xx answer, a path that finds nothing or an answer that is not
what the provider expects is an Error measurement (counted against ``consecutiveErrorLimit``),
never an exception. URLs in messages lose their credentials and query.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from gitops_release.analysis.condition import ERROR, judge
from gitops_release.analysis.template import Metric
from gitops_release.argo import http
from gitops_release.output import redact


@dataclass(frozen=True)
class Measurement:
    """One measurement; its value and message are redacted when made (a server may echo the
    credentials it was sent), so no exception, record or line built from them holds a secret."""

    phase: str
    value: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", redact(self.value))
        object.__setattr__(self, "message", redact(self.message))


def shown(url: str) -> str:
    """A URL as a message may show it: no credentials, no query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def measure(metric: Metric, *, verify: bool | str = True, cap: float | None = None) -> Measurement:
    """Take one measurement; ``cap`` limits its timeout (what is left of ``--timeout``)."""
    take = _web if metric.provider == "web" else _prometheus
    return take(metric, verify, cap)


def _timeout(value: Any, default: float, cap: float | None) -> float:
    try:
        seconds = float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        seconds = default
    return max(0.1, min(seconds, cap) if cap is not None else seconds)


def _call(url: str, timeout: float, verify: bool | str, **kwargs: Any) -> http.Probe | Measurement:
    try:
        return http.probe(
            url, timeout=timeout, verify=verify, max_body=1 << 20,
            hint="check the metric's address", label=shown(url), **kwargs,
        )  # fmt: skip
    except http.RemoteError as err:
        return Measurement(ERROR, message=err.message)


_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(-?\d+)\]|\[['\"]([^'\"]+)['\"]\]")


def json_path(data: Any, path: str) -> Any:
    """Kubernetes JSONPath as web metrics use it: ``{$.a.b[0]}``, ``{$}``, ``{.a['b-c']}``."""
    expr = path.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1].strip()
    expr = expr.removeprefix("$")
    value, pos = data, 0
    for step in _STEP.finditer(expr):
        if step.start() != pos:
            break
        pos = step.end()
        key, index, quoted = step.groups()
        if index is not None:
            i = int(index)
            if not isinstance(value, list) or not -len(value) <= i < len(value):
                raise LookupError(f"array index out of bounds: index {i}")
            value = value[i]
        else:
            name = key if key is not None else quoted
            if not isinstance(value, dict) or name not in value:
                raise LookupError(f"{name} is not found")
            value = value[name]
    if pos != len(expr):
        raise LookupError(f"cannot read {expr[pos:]!r} of the path {path!r}")
    return value


def _web(metric: Metric, verify: bool | str, cap: float | None) -> Measurement:
    web = metric.spec
    method = str(web.get("method") or "GET").upper()
    body, json_body = web.get("body") or "", web.get("jsonBody")
    if body and json_body is not None:
        return Measurement(ERROR, message="use either body or jsonBody, not both")
    if (body or json_body is not None) and method == "GET":
        return Measurement(ERROR, message="body/jsonBody need method POST or PUT")
    headers = {str(h.get("key")): str(h.get("value")) for h in web.get("headers") or []}
    data = None
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers.setdefault("Content-Type", "application/json")
    elif body:
        data = str(body).encode()
    url = str(web.get("url"))
    timeout = _timeout(web.get("timeoutSeconds"), 10.0, cap)
    answer = _call(url, timeout, verify, headers=headers, method=method, data=data)
    if isinstance(answer, Measurement):
        return answer
    if not 200 <= answer.status < 300:
        return Measurement(ERROR, message=f"{shown(url)} answered {answer.status}, not 2xx")
    try:
        parsed = json.loads(answer.body)
    except ValueError:
        phase, why = judge(answer.body, metric.success, metric.failure)
        return Measurement(phase, answer.body[:200], why)
    try:
        value = json_path(parsed, str(web.get("jsonPath") or "{$}"))
    except LookupError as err:
        return Measurement(ERROR, message=f"jsonPath {web.get('jsonPath')}: {err}")
    phase, why = judge(value, metric.success, metric.failure)
    return Measurement(phase, json.dumps(value, separators=(",", ":")), why)


def _sample(text: Any) -> float:
    special = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}
    return special[text] if text in special else float(text)


def _prometheus(metric: Metric, verify: bool | str, cap: float | None) -> Measurement:
    prom = metric.spec
    address = str(prom.get("address")).rstrip("/")
    url = f"{address}/api/v1/query?{urlencode({'query': str(prom.get('query'))})}"
    answer = _call(url, _timeout(prom.get("timeout"), 30.0, cap), verify)
    if isinstance(answer, Measurement):
        return answer
    try:
        document = json.loads(answer.body)
    except ValueError:
        return Measurement(ERROR, message=f"{shown(url)} answered {answer.status}, not JSON")
    if not isinstance(document, dict) or document.get("status") != "success":
        problem = document if not isinstance(document, dict) else document.get("error")
        return Measurement(ERROR, message=f"prometheus: {problem or answer.status}")
    data = document.get("data") or {}
    kind = data.get("resultType")
    result: Any = data.get("result")
    try:
        if kind == "scalar":
            value = _sample(result[1])
            phase, why = judge(value, metric.success, metric.failure)
            return Measurement(phase, str(result[1]), why)
        if kind in ("vector", "matrix"):
            texts = [
                sample[1]
                for series in result or []
                for sample in ([series["value"]] if kind == "vector" else series["values"])
            ]
            phase, why = judge([_sample(t) for t in texts], metric.success, metric.failure)
            return Measurement(phase, "[" + ",".join(texts) + "]", why)
    except (KeyError, IndexError, TypeError, ValueError):
        return Measurement(ERROR, message=f"prometheus answered an unreadable {kind}")
    return Measurement(ERROR, message=f"prometheus result type {kind} is not supported")
