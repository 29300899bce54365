"""Sandbox control: failing images and API faults, on ``/sandbox/api/v1/...`` (off the real paths).

Endpoints (JSON bodies; no auth, loopback only):

- ``GET  /sandbox/api/v1/state``: controller time, apps, rollouts, failing images, pending faults,
  the resource-action API served (``actionsApi``).
- ``POST /sandbox/api/v1/images/fail`` ``{"image": "ikubernetes/myapp:v3", "mode": "never-ready"}``
  (pods never become ready: CrashLoopBackOff, ProgressDeadlineExceeded after 600 s),
  ``"mode": "pull-error"`` (ErrImagePull then ImagePullBackOff, as for a tag that does not exist)
  or ``"mode": "http-500"`` (pods ready, the ingress answers 500; with ``"rate": 0.2`` one request
  in five, evenly spread) or ``"mode": "slow"`` with ``"seconds": 0.5`` (every answer that much
  controller time late); ``http-500`` and ``slow`` combine. ``DELETE .../images/fail?image=``
  clears one image (no ``image``: all).
- ``GET  /sandbox/api/v1/metrics``: the simulated pods' ``/metrics`` in Prometheus' text format,
  one static scrape target for all pods (labels ``namespace``, ``pod``,
  ``rollouts_pod_template_hash``, ``version``): ``http_requests_total{code}`` and the
  ``http_request_duration_seconds`` histogram of the requests the ingress routed (see
  ``podmetrics.py``).
- ``POST /sandbox/api/v1/faults`` one of:
  ``{"kind": "http-error", "status": 503, "count": 3, "path": "/api/v1/applications"}``
  (the next N API requests whose path starts with ``path`` fail; 502/504 answer like a proxy's
  HTML page, others with the gRPC-gateway JSON error);
  ``{"kind": "latency", "seconds": 0.5, "count": 10, "path": "/api/"}`` (count -1: until reset);
  ``{"kind": "drop-stream", "count": 1, "after": 1}`` (the next N watch streams are cut after
  ``after`` events, without the closing chunk);
  ``{"kind": "operation-in-progress", "app": "myapp", "seconds": 60}`` (a sync operation that
  stays Running for that much controller time: sync and rollback get 400 code 9);
  ``{"kind": "sync-fails", "app": "myapp", "count": 1, "message": "..."}`` (the next N sync
  operations end ``Failed``: "one or more objects failed to apply, reason: ...").
- ``POST /sandbox/api/v1/actions-api`` ``{"mode": "v1-only"}``: serve the resource-action API
  as Argo CD 3.1.5+ (``v2``: both endpoints), 3.0 and older (``v1-only``: ``.../actions/v2`` is
  an unknown route, plain-text 404) or 3.1.0-3.1.4 (``v1-broken``: the v1 endpoint fails with
  500 ``error getting Lua resource action: built-in script does not exist``, argo-cd#24490);
  ``/api/version`` reports a matching version.
- ``POST /sandbox/api/v1/time/advance`` ``{"seconds": 30}``: jump controller time forward.
- ``POST /sandbox/api/v1/reset`` ``{"all": true}``: clear faults and failing images; with
  ``all``, delete every Application and live object too.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitops_release.sandbox.podmetrics import HttpFault
from gitops_release.sandbox.wire import INVALID_ARGUMENT, GrpcError, Handler, route

if TYPE_CHECKING:
    from gitops_release.sandbox.server import Sandbox

C = "/sandbox/api/v1"
IMAGE_MODES = ("never-ready", "pull-error", "http-500", "slow")
_PROXY_PAGE = "<html><head><title>{0} {1}</title></head><body><center><h1>{0} {1}</h1></center></body></html>\n"


@dataclass
class Rule:
    kind: str
    count: int
    path: str = "/"
    status: int = 503
    seconds: float = 0.0
    after: int = 1


@dataclass
class Faults:
    rules: list[Rule] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)
    http: dict[str, HttpFault] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def image_policy(self, image: str) -> str | None:
        return self.images.get(image)

    def http_answer(self, image: str, failing: bool) -> tuple[bool, float]:
        """(answer 500?, delay in controller seconds) for the next request a pod of ``image``
        serves; ``failing`` is the pod's own http-500 mode (every request, without a rate)."""
        with self.lock:
            fault = self.http.get(image)
            if fault is None:
                return failing, 0.0
            return fault.next_fails(), fault.latency

    def fail_http(self, image: str, mode: str, rate: float, seconds: float) -> None:
        if mode == "http-500" and not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate {rate}: a share of requests between 0 and 1")
        if mode == "slow" and seconds < 0:
            raise ValueError(f"seconds {seconds}: a delay cannot be negative")
        with self.lock:
            fault = self.http.setdefault(image, HttpFault())
            if mode == "http-500":
                self.images[image] = mode
                fault.error_rate = rate
            else:
                fault.latency = seconds

    def add(self, rule: Rule) -> None:
        with self.lock:
            self.rules.append(rule)

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.images.clear()
            self.http.clear()

    def _take(self, kind: str, path: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.kind == kind and path.startswith(rule.path) and rule.count != 0:
                    if rule.count > 0:
                        rule.count -= 1
                    return rule
            self.rules = [r for r in self.rules if r.count != 0]
        return None

    def before(self, handler: Handler, path: str) -> bool:
        """Latency and injected errors for the API paths; False when the reply was sent."""
        if path.startswith(C):
            return True
        slow = self._take("latency", path)
        if slow is not None:
            time.sleep(slow.seconds)
        failure = self._take("http-error", path)
        if failure is None:
            return True
        reason = {502: "Bad Gateway", 504: "Gateway Timeout"}.get(failure.status)
        if reason:
            handler.text(failure.status, _PROXY_PAGE.format(failure.status, reason), "text/html")
        else:
            code = {500: 13, 503: 14, 429: 8, 504: 4}.get(failure.status, 2)
            message = f"injected fault: HTTP {failure.status}"
            handler.json(failure.status, {"error": message, "code": code, "message": message})
        return False

    def take_stream_drop(self) -> int | None:
        rule = self._take("drop-stream", "/")
        return None if rule is None else max(1, rule.after)

    def describe(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(vars(r)) for r in self.rules if r.count != 0]


class ControlHandler(Handler):
    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox  # type: ignore[attr-defined,no-any-return]

    @route("GET", C + "/state")
    def state(self) -> None:
        sb = self.sandbox
        with sb.lock:
            payload = {
                "time": sb.clock.seconds(),
                "timeScale": sb.clock.scale,
                "applications": sorted(sb.apps.apps),
                "rollouts": [f"{ns}/{n}" for ns, n in sorted(sb.cluster.rollouts)],
                "failingImages": dict(sb.faults.images),
                "faults": sb.faults.describe(),
                "actionsApi": sb.actions_api,
            }
        self.json(200, payload)

    @route("POST", C + "/images/fail")
    def fail_image(self) -> None:
        body = self.json_object()
        try:
            self.sandbox.fail_image(
                str(body.get("image") or ""),
                str(body.get("mode") or "never-ready"),
                rate=float(body.get("rate", 1.0)),
                seconds=float(body.get("seconds", 0.0)),
            )
        except ValueError as err:
            raise GrpcError(INVALID_ARGUMENT, str(err)) from None
        self.json(200, {"failingImages": dict(self.sandbox.faults.images)})

    @route("GET", C + "/metrics")
    def metrics(self) -> None:
        self.text(200, self.sandbox.pod_metrics.exposition(), "text/plain; version=0.0.4")

    @route("DELETE", C + "/images/fail")
    def clear_image(self) -> None:
        self.sandbox.clear_image(self.q("image") or None)
        self.json(200, {"failingImages": dict(self.sandbox.faults.images)})

    @route("POST", C + "/faults")
    def fault(self) -> None:
        body = self.json_object()
        kind = str(body.get("kind") or "")
        count = int(body.get("count", 1))
        if kind == "http-error":
            self.sandbox.faults.add(
                Rule(kind, count, str(body.get("path") or "/"), int(body.get("status", 503)))
            )
        elif kind == "latency":
            self.sandbox.faults.add(
                Rule(
                    kind,
                    count,
                    str(body.get("path") or "/"),
                    seconds=float(body.get("seconds", 1.0)),
                )
            )
        elif kind == "drop-stream":
            self.sandbox.faults.add(Rule(kind, count, after=int(body.get("after", 1))))
        elif kind == "operation-in-progress":
            self.sandbox.hold_operation(str(body.get("app") or ""), float(body.get("seconds", 60)))
        elif kind == "sync-fails":
            self.sandbox.fail_syncs(
                str(body.get("app") or ""),
                int(body.get("count", 1)),
                str(body.get("message") or ""),
            )
        else:
            raise GrpcError(INVALID_ARGUMENT, f"unknown fault kind {kind!r}")
        self.json(200, {"faults": self.sandbox.faults.describe()})

    @route("POST", C + "/actions-api")
    def actions_api(self) -> None:
        try:
            self.sandbox.set_actions_api(str(self.json_object().get("mode") or ""))
        except ValueError as err:
            raise GrpcError(INVALID_ARGUMENT, str(err)) from None
        self.json(200, {"actionsApi": self.sandbox.actions_api})

    @route("POST", C + "/time/advance")
    def advance(self) -> None:
        body = self.json_object()
        self.sandbox.advance(float(body.get("seconds", 0)))
        self.json(200, {"time": self.sandbox.clock.seconds()})

    @route("POST", C + "/reset")
    def reset(self) -> None:
        body = self.json_object()
        self.sandbox.reset(everything=bool(body.get("all")))
        self.json(200, {})
