"""A real Prometheus beside the sandbox: it scrapes the simulated pods and answers queries about
the traffic the ingress routed."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

from conftest import Env

from gitops_release.sandbox.metricproviders import PrometheusProvider
from gitops_release.sandbox.prometheus import Prometheus, scrape_config


def query(prom: Prometheus, promql: str) -> list[dict[str, Any]]:
    url = prom.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as resp:
        answer = json.loads(resp.read())
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def test_prometheus_scrapes_what_the_pods_answered(live_env: Env, prometheus_for: Any) -> None:
    started = time.monotonic()
    prom = prometheus_for(live_env.sb)
    print(f"prometheus ready after {time.monotonic() - started:.2f} s")
    for _ in range(5):
        live_env.host("prod.myapp.com")
    deadline = time.monotonic() + 30
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = query(prom, 'sum by (version, code) (http_requests_total{version="v1"})')
        if found and found[0]["value"][1] == "5":
            break
        time.sleep(0.2)
    assert [(r["metric"], r["value"][1]) for r in found] == [
        ({"version": "v1", "code": "200"}, "5")
    ]


def test_prometheus_stops_with_its_process(live_env: Env, prometheus_for: Any) -> None:
    prom = prometheus_for(live_env.sb)
    process = prom.process
    assert process is not None and process.poll() is None
    prom.stop()
    assert process.poll() is not None
    assert not prom._ready()


def test_the_scrape_config_targets_the_pod_metrics_every_second() -> None:
    config = scrape_config("127.0.0.1:4000")
    job = config["scrape_configs"][0]  # type: ignore[index]
    assert job["metrics_path"] == "/sandbox/api/v1/metrics"
    assert job["static_configs"] == [{"targets": ["127.0.0.1:4000"]}]
    assert job["scrape_interval"] == "1000ms" and job["honor_labels"] is True


def _measure(prom: Prometheus, query: str) -> dict[str, Any]:
    metric = {
        "name": "error-rate",
        "successCondition": "result[0] < 0.05",
        "provider": {"prometheus": {"address": prom.url, "query": query}},
    }
    return PrometheusProvider().run({}, metric, 0.0)


def test_a_query_a_real_prometheus_answers_with_nothing_is_an_error_naming_why(
    prometheus: Prometheus,
) -> None:
    m = _measure(prometheus, 'sum(rate(http_requests_total{version="nope"}[10s]))')
    assert (m["phase"], m["value"]) == ("Error", "[]")
    assert "no data returned from the metric provider" in m["message"]


def test_a_query_a_real_prometheus_cannot_parse_is_an_error_with_its_words(
    prometheus: Prometheus,
) -> None:
    m = _measure(prometheus, "sum(rate(http_requests_total[10s]")
    assert m["phase"] == "Error"
    assert m["message"].startswith("bad_data: "), m["message"]
    assert "parse error" in m["message"]
