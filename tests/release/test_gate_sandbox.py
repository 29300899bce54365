"""``verify APP --analysis TEMPLATE --arg k=v`` on the sandbox against a REAL Prometheus scraping
its pods (issue 15, "Beyond the neighbours"): users hit the preview host, Prometheus counts what
the preview's pods answer, and the client's own evaluator asks it for their error rate, as a CI
job would between ``wait --for preview-ready`` and ``promote``. The app here has no in-cluster
analysis: the gate is the pipeline's. Intervals are real seconds (the client's clock)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitops_release.sandbox.prometheus import Prometheus
from tests.conftest import Env, Traffic

VERSION = 'version="{{args.version}}"'
QUERY = (
    f'(sum(rate(http_requests_total{{code=~"5..",{VERSION}}}[10s])) or vector(0))'
    f" / sum(rate(http_requests_total{{{VERSION}}}[10s]))"
)
TEMPLATE = """apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: preview-error-rate
spec:
  args:
  - name: version
  metrics:
  - name: error-rate
    initialDelay: 3s
    interval: 1s
    count: 3
    successCondition: len(result) > 0 && result[0] < 0.05
    failureCondition: len(result) > 0 && result[0] >= 0.05
    provider:
      prometheus:
        address: "{address}"
        query: '{query}'
"""


@pytest.fixture
def gate(live_env: Env, prometheus: Prometheus) -> Path:
    """The error-rate template on the pods of the version named by ``--arg version=``."""
    path = live_env.tmp / "analysis.yaml"
    path.write_text(TEMPLATE.format(address=prometheus.url, query=QUERY.replace("'", "''")))
    return path


def test_a_healthy_preview_passes_printing_each_measurement(live_env: Env, gate: Path) -> None:
    env = live_env
    env.bump("v2")
    env.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    with Traffic(env.sb):
        code, out, err = env.cli(
            "verify", "myapp", "--analysis", str(gate), "--arg", "version=v2", "--timeout", "60s"
        )
    assert code == 0, err
    assert out.startswith(f"analysis preview-error-rate ({gate}): Successful"), out
    for n in (1, 2, 3):  # each measurement as it comes: no 5xx on v2's pods, a rate of 0
        assert f"last value [0] (Successful), {n} of 3 measurements ({n} successful)" in err, err


def test_a_preview_answering_20pc_errors_fails_naming_metric_condition_and_value(
    live_env: Env, gate: Path
) -> None:
    env = live_env
    env.sb.fail_image("ikubernetes/myapp:v3", "http-500", rate=0.2)
    env.bump("v3")
    env.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    with Traffic(env.sb) as users:
        code, _, err = env.cli(
            "verify", "myapp", "--analysis", str(gate), "--arg", "version=v3", "--timeout", "60s"
        )
    assert code == 1, err
    assert (
        'metric "error-rate" (successCondition: len(result) > 0 && result[0] < 0.05; '
        "failureCondition: len(result) > 0 && result[0] >= 0.05)" in err
    ), err
    found = re.search(r"error: analysis preview-error-rate Failed: .* last value \[(0\.\d+)\]", err)
    assert found and 0.1 < float(found[1]) < 0.3, err
    assert "Version: v3" not in users.prod_answers  # the gate ran on the preview only


def test_prometheus_unreachable_ends_in_error_after_the_limit_saying_what_to_fix(
    live_env: Env, gate: Path, prometheus: Prometheus
) -> None:
    env = live_env
    prometheus.stop()
    code, _, err = env.cli(
        "verify", "myapp", "--analysis", str(gate), "--arg", "version=v1", "--timeout", "60s"
    )
    assert code == 1, err
    assert "analysis preview-error-rate Error" in err, err
    assert "consecutiveErrors (5) > consecutiveErrorLimit (4)" in err, err
    assert f"cannot reach {prometheus.url}/api/v1/query: " in err, err
    assert "?query=" not in err  # the URL in a message loses its query (as it does its credentials)
    # what to fix: the address this job cannot reach, not "fix the release"
    hint = f"check that Prometheus at {prometheus.url} is up and reachable from this job"
    assert hint in err, err
