"""The simulated pods' ``/metrics``: what the ingress routed, counted per pod in Prometheus' text
format, with the control API's error rate and latency per image."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

from conftest import Env
from scenario import Scenario, stepped_sandbox

from gitops_release.sandbox.podmetrics import HttpFault, PodMetrics


def _scrape(env: Env) -> str:
    with urllib.request.urlopen(env.sb.argocd_url + "/sandbox/api/v1/metrics", timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return str(resp.read().decode())


def _requests(text: str, version: str, code: str) -> int:
    total = 0
    for line in text.splitlines():
        wanted = f'version="{version}"' in line and f'code="{code}"' in line
        if line.startswith("http_requests_total{") and wanted:
            total += int(line.rsplit(" ", 1)[1])
    return total


def _post(env: Env, path: str, body: dict[str, object]) -> tuple[int, str]:
    req = urllib.request.Request(
        env.sb.argocd_url + "/sandbox/api/v1" + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_metrics_count_what_the_ingress_routed_to_each_version(live_env: Env) -> None:
    for _ in range(7):
        assert str(live_env.host("prod.myapp.com")).startswith("Hello MyApp | Version: v1")
    live_env.host("nowhere.example.com")  # no route: no pod answered, nothing counted
    text = _scrape(live_env)
    assert _requests(text, "v1", "200") == 7
    assert "# TYPE http_requests_total counter" in text
    assert "# TYPE http_request_duration_seconds histogram" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("http_requests_total{"))
    assert re.fullmatch(
        r'http_requests_total\{namespace="default",pod="bluegreen-rollout-[0-9a-z]+-[0-9a-z]+",'
        r'rollouts_pod_template_hash="[0-9a-z]+",version="v1",code="200"\} \d+',
        line,
    ), line
    counts = [
        ln for ln in text.splitlines() if ln.startswith("http_request_duration_seconds_count")
    ]
    assert sum(int(ln.rsplit(" ", 1)[1]) for ln in counts) == 7


def test_an_error_rate_makes_that_share_of_answers_500(live_env: Env) -> None:
    status, _ = _post(
        live_env, "/images/fail", {"image": "ikubernetes/myapp:v1", "mode": "http-500", "rate": 0.2}
    )
    assert status == 200
    answers = [live_env.host("prod.myapp.com") for _ in range(20)]
    assert answers.count(500) == 4
    text = _scrape(live_env)
    assert (_requests(text, "v1", "500"), _requests(text, "v1", "200")) == (4, 16)


def test_a_slow_version_shows_in_the_latency_histogram(live_env: Env) -> None:
    # 30 controller seconds = 0.3 s at the fixture's time scale; observed as 30 s.
    status, _ = _post(
        live_env, "/images/fail", {"image": "ikubernetes/myapp:v1", "mode": "slow", "seconds": 30}
    )
    assert status == 200
    live_env.host("prod.myapp.com")
    text = _scrape(live_env)
    assert re.search(r'http_request_duration_seconds_bucket\{[^}]*le="10.0"\} 0', text), text
    assert re.search(r'http_request_duration_seconds_bucket\{[^}]*le="\+Inf"\} 1', text), text


def test_a_rate_outside_zero_to_one_is_refused_and_changes_nothing(live_env: Env) -> None:
    status, body = _post(
        live_env, "/images/fail", {"image": "ikubernetes/myapp:v1", "mode": "http-500", "rate": 2}
    )
    assert status == 400 and "rate 2.0" in body
    assert str(live_env.host("prod.myapp.com")).startswith("Hello MyApp")


def test_errors_are_spread_evenly_and_labels_are_escaped() -> None:
    fault = HttpFault(error_rate=0.25)
    assert [fault.next_fails() for _ in range(8)] == [False, False, False, True] * 2
    metrics = PodMetrics()
    metrics.observe(("ns", 'p"1', "h", "v\\2"), 200, 0.02)
    assert 'pod="p\\"1"' in metrics.exposition() and 'version="v\\\\2"' in metrics.exposition()


SLOW = """
apiVersion: v1
kind: Service
metadata: {name: slow-active}
spec: {selector: {app: slow}, ports: [{port: 80}]}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: slow}
spec:
  routes:
  - match: Host(`slow.example.com`)
    kind: Rule
    services: [{name: slow-active, port: 80}]
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: slow}
spec:
  replicas: 1
  strategy:
    blueGreen: {activeService: slow-active}
  selector:
    matchLabels: {app: slow}
  template:
    metadata:
      labels: {app: slow}
    spec:
      containers:
      - {name: slow, image: "nginx:1.19-alpine"}
"""


def test_a_slow_version_on_a_stepped_sandbox_still_answers(tmp_path: Path) -> None:
    """A delay is slept at the sandbox's pace but never longer than it says: on a stepped
    sandbox (a controller second lasts for ever) a slow pod answers after its nominal delay."""
    with stepped_sandbox(tmp_path) as sb:
        Scenario(sb, tmp_path, SLOW).healthy_rollout()
        sb.fail_image("nginx:1.19-alpine", "slow", seconds=0.5)
        req = urllib.request.Request(sb.ingress_url + "/", headers={"Host": "slow.example.com"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.read().decode().startswith("Hello MyApp | Version: 1.19-alpine")
