"""What the simulated pods' ``/metrics`` would say: the ingress counts each request it routes to a
pod (status code, latency) here, and the control API's ``metrics`` path serves the counts in
Prometheus' text exposition format (0.0.4) for one static scrape target::

    http_requests_total{namespace="default",pod="bluegreen-6d4f8b9c7-x2x1z",
        rollouts_pod_template_hash="6d4f8b9c7",version="v3",code="500"} 3
    http_request_duration_seconds_bucket{...,le="0.05"} 12   (and _sum, _count)

The labels are what a Kubernetes pod scrape's usual relabelling yields (namespace, pod, the
pod-template-hash label) plus the image's tag as ``version``. Counters only grow while the
sandbox runs (a reset of faults keeps them, as a pod restart would not happen).

Faults per image (``POST /sandbox/api/v1/images/fail``): ``http-500`` with a ``rate`` (0..1)
answers that share of requests with 500, spread evenly (deterministic: with rate 0.2 every fifth
request fails); ``slow`` with ``seconds`` delays every answer by that many controller seconds
(slept at the sandbox's time scale, observed in the histogram as the nominal duration).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

# Prometheus client libraries' default buckets.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Series = tuple[str, str, str, str]  # namespace, pod, hash, version


@dataclass
class HttpFault:
    """How an image's pods answer: a share of 500s and a delay (controller seconds)."""

    error_rate: float = 0.0
    latency: float = 0.0
    served: int = 0

    def next_fails(self) -> bool:
        """Whether the next request fails: evenly spread, ``rate`` of them in any window."""
        before = math.floor(self.served * self.error_rate + 1e-9)
        self.served += 1
        return math.floor(self.served * self.error_rate + 1e-9) > before


@dataclass
class _Histogram:
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1
        self.total += seconds
        self.count += 1


class PodMetrics:
    """Request counts and latencies per pod, with its own lock (never the sandbox's: a scrape
    must not wait on a controller pass)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[Series, str], int] = {}
        self._latency: dict[Series, _Histogram] = {}

    def observe(self, series: Series, code: int, seconds: float) -> None:
        with self._lock:
            key = (series, str(code))
            self._requests[key] = self._requests.get(key, 0) + 1
            self._latency.setdefault(series, _Histogram()).observe(seconds)

    def exposition(self) -> str:
        """All series in the text format, sorted (a stable scrape)."""
        lines = [
            "# HELP http_requests_total Requests the pod answered, by status code.",
            "# TYPE http_requests_total counter",
        ]
        with self._lock:
            requests = sorted(self._requests.items())
            latency = sorted((s, _copy(h)) for s, h in self._latency.items())
        for (series, code), count in requests:
            lines.append(f"http_requests_total{{{_labels(series)},code={_q(code)}}} {count}")
        lines += [
            "# HELP http_request_duration_seconds Time the pod took to answer.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        for series, hist in latency:
            labels = _labels(series)
            for bound, count in zip(BUCKETS, hist.buckets, strict=True):
                lines.append(
                    f"http_request_duration_seconds_bucket{{{labels},le={_q(repr(bound))}}} {count}"
                )
            lines.append(f'http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {hist.count}')
            lines.append(f"http_request_duration_seconds_sum{{{labels}}} {hist.total!r}")
            lines.append(f"http_request_duration_seconds_count{{{labels}}} {hist.count}")
        return "\n".join(lines) + "\n"


def _copy(hist: _Histogram) -> _Histogram:
    return _Histogram(list(hist.buckets), hist.total, hist.count)


def _q(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _labels(series: Series) -> str:
    namespace, pod, pod_hash, version = series
    return (
        f"namespace={_q(namespace)},pod={_q(pod)},"
        f"rollouts_pod_template_hash={_q(pod_hash)},version={_q(version)}"
    )
