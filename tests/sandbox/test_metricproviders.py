"""The sandbox's web and Prometheus metric providers, against a real HTTP server on 127.0.0.1
(a Prometheus HTTP API stand-in here; the real Prometheus is the next step)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from gitops_release.sandbox.analysis import reconcile
from gitops_release.sandbox.metricproviders import provider_for
from tests.fake_http import FakeServer, Request

NOW = 100.0


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer().start()
    yield fake
    fake.stop()


def measure(metric: dict[str, Any]) -> dict[str, Any]:
    return provider_for(metric).run({}, metric, NOW)


def test_web_reads_the_json_path_sends_headers_and_evaluates(server: FakeServer) -> None:
    server.routes[("GET", "/health")] = lambda r: (200, {"data": {"ok": True, "rate": 0.995}})
    metric = {
        "name": "web",
        "successCondition": "result >= 0.99",
        "provider": {
            "web": {
                "url": f"{server.url}/health",
                "headers": [{"key": "Authorization", "value": "Bearer s3cret"}],
                "jsonPath": "{$.data.rate}",
            }
        },
    }
    m = measure(metric)
    assert (m["phase"], m["value"]) == ("Successful", "0.995")
    assert server.requests[0].headers["authorization"] == "Bearer s3cret"


def test_web_post_with_json_body(server: FakeServer) -> None:
    def echo(r: Request) -> tuple[Any, ...]:
        return 200, {"got": r.json()}

    server.routes[("POST", "/check")] = echo
    web = {
        "url": f"{server.url}/check",
        "method": "POST",
        "jsonBody": {"a": 1},
        "jsonPath": "{$.got.a}",
    }
    m = measure({"name": "w", "successCondition": "result == 1", "provider": {"web": web}})
    assert m["phase"] == "Successful"
    assert server.requests[0].headers["content-type"] == "application/json"


def test_web_errors_as_upstream(server: FakeServer) -> None:
    server.routes[("GET", "/down")] = lambda r: (503, {"x": 1})
    server.routes[("GET", "/json")] = lambda r: (200, {"a": 1})
    down = measure({"name": "w", "provider": {"web": {"url": f"{server.url}/down"}}})
    assert (down["phase"], down["message"]) == ("Error", "received non 2xx response code: 503")
    path = measure(
        {"name": "w", "provider": {"web": {"url": f"{server.url}/json", "jsonPath": "{$.b}"}}}
    )
    assert (path["phase"], path["message"]) == (
        "Error",
        "Could not find JSONPath in body: b is not found",
    )
    get_body = measure({"name": "w", "provider": {"web": {"url": server.url, "body": "x"}}})
    assert (
        get_body["message"]
        == "Body/JSONBody can only be used with POST or PUT WebMetric Method types"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_endpoint_names_it_without_credentials() -> None:
    url = f"http://user:hunter2@127.0.0.1:{_free_port()}/q?token=abc"
    m = measure({"name": "w", "provider": {"web": {"url": url, "timeoutSeconds": 2}}})
    assert m["phase"] == "Error"
    assert "hunter2" not in m["message"] and "abc" not in m["message"]
    assert "127.0.0.1" in m["message"]


def _vector(*values: str) -> dict[str, Any]:
    result = [{"metric": {"version": "v2"}, "value": [1700000000.0, v]} for v in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_prometheus_vector_scalar_and_empty(server: FakeServer) -> None:
    answers = iter(
        [
            _vector("0.005"),
            {"status": "success", "data": {"resultType": "scalar", "result": [1.0, "1"]}},
            _vector(),
        ]
    )
    server.routes[("GET", "/api/v1/query")] = lambda r: (200, next(answers))
    metric = {
        "name": "error-rate",
        "successCondition": "result[0] < 0.01",
        "provider": {
            "prometheus": {
                "address": server.url,
                "query": 'sum(rate(http_requests_total{code=~"5.."}[1m]))',
            }
        },
    }
    vector = measure(metric)
    assert (vector["phase"], vector["value"]) == ("Successful", "[0.005]")
    assert server.requests[0].query["query"] == ['sum(rate(http_requests_total{code=~"5.."}[1m]))']
    scalar = measure({**metric, "successCondition": "result == 1"})
    assert (scalar["phase"], scalar["value"]) == ("Successful", "1")
    empty = measure(metric)
    assert empty["phase"] == "Error"
    assert empty["message"] == (
        'could not evaluate successCondition "result[0] < 0.01": metric result is nil or empty:'
        " no data returned from the metric provider"
    )


def test_prometheus_unreachable_ends_in_error_after_the_consecutive_error_limit() -> None:
    run = {
        "spec": {
            "metrics": [
                {
                    "name": "error-rate",
                    "interval": "1m",
                    "successCondition": "result[0] < 0.01",
                    "provider": {
                        "prometheus": {"address": f"http://127.0.0.1:{_free_port()}", "query": "up"}
                    },
                }
            ]
        },
        "status": {},
    }
    now = NOW
    for _ in range(5):
        nxt = reconcile(run, provider_for, now)
        now = (nxt or now) + 0.001
    assert run["status"]["phase"] == "Error"
    assert run["status"]["message"].startswith(
        'Metric "error-rate" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4):'
        ' "Error Message: Post "http://127.0.0.1:'
    )


def test_a_provider_the_sandbox_does_not_serve_is_an_error_measurement() -> None:
    run = {
        "spec": {"metrics": [{"name": "dd", "provider": {"datadog": {"query": "x"}}}]},
        "status": {},
    }
    reconcile(run, provider_for, NOW)
    m = run["status"]["metricResults"][0]["measurements"][0]
    assert m["phase"] == "Error"
    assert "the sandbox serves web and prometheus" in m["message"]
