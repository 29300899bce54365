"""``verify APP --analysis TEMPLATE [--arg k=v]`` (issue 15): an AnalysisTemplate's metrics measured
from the CI job against a real HTTP server on 127.0.0.1 speaking the Prometheus query API (and a
web endpoint); exit 0 Successful, 1 Failed/Error/Inconclusive naming metric, condition and value,
2 for bad input. The template by name is found among the app's files in Git (on the sandbox)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_release.cli import main
from tests.conftest import Env
from tests.fake_http import FakeServer, Request

TEMPLATE = """apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  args:
  - name: service-name
  - name: threshold
    value: "0.01"
  metrics:
  - name: error-rate
    count: {count}
    interval: 10ms
    successCondition: {success}
    failureCondition: result[0] >= 0.05
    provider:
      prometheus:
        address: {address}
        query: sum(rate(http_requests_total{{service="{{{{args.service-name}}}}",code=~"5.."}}[1m]))
"""


class Prometheus:
    """``/api/v1/query`` answering a vector with the rate set by the test (or nothing)."""

    def __init__(self) -> None:
        self.server = FakeServer().start()
        self.rates: list[float] = []
        self.server.routes[("GET", "/api/v1/query")] = self.query

    def query(self, request: Request) -> tuple[Any, ...]:
        result = [{"metric": {}, "value": [0, str(r)]} for r in self.rates]
        return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}


@pytest.fixture
def prometheus() -> Iterator[Prometheus]:
    prom = Prometheus()
    yield prom
    prom.server.stop()


def _template(
    tmp_path: Path, address: str, *, count: int = 3, success: str = "result[0] < {{args.threshold}}"
) -> Path:
    path = tmp_path / "analysis.yaml"
    path.write_text(TEMPLATE.format(address=address, count=count, success=success))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["verify", "myapp", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_healthy_release_passes_printing_each_measurement(
    tmp_path: Path, prometheus: Prometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    prometheus.rates = [0.001]
    path = _template(tmp_path, prometheus.server.url)
    code, out, err = run(capsys, "--analysis", str(path), "--arg", "service-name=myapp-preview")
    assert code == 0, err
    assert out.startswith("analysis error-rate (")
    assert "Successful" in out
    for n in (1, 2, 3):
        assert f"{n} of 3 measurements ({n} successful)" in err
    queries = [r.query["query"][0] for r in prometheus.server.requests]
    assert len(queries) == 3 and 'service="myapp-preview"' in queries[0]


def test_twenty_percent_errors_fail_naming_metric_condition_and_value(
    tmp_path: Path, prometheus: Prometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    prometheus.rates = [0.2]
    path = _template(tmp_path, prometheus.server.url)
    code, out, err = run(capsys, "--analysis", str(path), "--arg", "service-name=x", "-o", "json")
    assert code == 1, err
    data = json.loads(out)
    assert data["result"]["phase"] == "Failed"
    assert data["result"]["metrics"][0]["last"]["value"] == "[0.2]"
    assert (
        'metric "error-rate" (successCondition: result[0] < 0.01; failureCondition: result[0] >= 0.05)'
        in err
    )
    assert "last value [0.2] (Failed)" in err and "failed (1) > failureLimit (0)" in err


def test_a_query_returning_nothing_ends_in_error_saying_no_data(
    tmp_path: Path, prometheus: Prometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    prometheus.rates = []
    path = _template(tmp_path, prometheus.server.url, count=10)
    code, _, err = run(capsys, "--analysis", str(path), "--arg", "service-name=x")
    assert code == 1, err
    assert "analysis error-rate Error" in err and "consecutiveErrorLimit (4)" in err
    assert "no data" in err
    assert len(prometheus.server.requests) == 5  # limit 4: the fifth error ends it


def test_prometheus_unreachable_ends_in_error_after_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = _template(tmp_path, f"http://127.0.0.1:{port}", count=10)
    code, _, err = run(capsys, "--analysis", str(path), "--arg", "service-name=x")
    assert code == 1, err
    assert "consecutiveErrors (5) > consecutiveErrorLimit (4)" in err
    assert "cannot reach" in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--analysis", "nope.yaml"), "--analysis nope.yaml: no such file"),
        (
            ("--analysis", "{file}"),
            "arg service-name has no value (pass it with --arg service-name=VALUE, or a secret in $GITOPS_RELEASE_ARG_SERVICE_NAME)",
        ),
        (("--analysis", "{file}", "--arg", "service-name=x", "--arg", "typo=1"), "has no arg typo"),
        (("--analysis", "{file}", "--arg", "novalue"), "--arg novalue: want NAME=VALUE"),
        (
            ("--analysis", "{bad}", "--arg", "service-name=x"),
            'successCondition: condition "result[0] <<< 1"',
        ),
        (("--analysis", "{file}", "--preview"), "verify --analysis runs alone"),
    ],
    ids=[
        "missing-template",
        "missing-arg",
        "unknown-arg",
        "bad-arg",
        "unparsable-condition",
        "with-preview",
    ],
)
def test_bad_input_exits_2_saying_what_to_fix(
    tmp_path: Path,
    prometheus: Prometheus,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    words: str,
) -> None:
    good = _template(tmp_path, prometheus.server.url)
    (tmp_path / "bad").mkdir()
    bad = _template(tmp_path / "bad", prometheus.server.url, success="result[0] <<< 1")
    code, _, err = run(capsys, *(a.format(file=good, bad=bad) for a in args))
    assert code == 2, err
    assert words in err
    assert prometheus.server.requests == []  # nothing measured


def test_a_template_by_name_is_found_in_the_apps_files_in_git(
    git_env: Env, prometheus: Prometheus
) -> None:
    env = git_env
    prometheus.rates = [0.001]
    _template(env.repo / "myapp", prometheus.server.url, count=1)
    env.git("add", ".")
    env.git("commit", "-qm", "myapp: analysis template")
    env.git("push", "-q", "origin", "main")
    env.create_app()
    code, out, err = env.cli(
        "verify", "myapp", "--analysis", "error-rate", "--arg", "service-name=x"
    )
    assert code == 0, err
    assert "analysis error-rate (analysis.yaml): Successful" in out
    code, _, err = env.cli("verify", "myapp", "--analysis", "no-such-template")
    assert code == 2 and "no AnalysisTemplate no-such-template found" in err


def test_a_secret_arg_comes_from_the_environment_and_is_never_shown(
    tmp_path: Path,
    prometheus: Prometheus,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A token must not be in argv: GITOPS_RELEASE_ARG_NAME gives it, and it is masked."""
    secret = "svc-4f9b2c7e1d"
    monkeypatch.setenv("GITOPS_RELEASE_ARG_SERVICE_NAME", secret)
    prometheus.rates = [0.001]
    path = _template(tmp_path, prometheus.server.url, count=1)
    code, out, err = run(capsys, "--analysis", str(path), "-o", "json")
    assert code == 0, err
    assert f'service="{secret}"' in prometheus.server.requests[0].query["query"][0]
    assert secret not in out + err
