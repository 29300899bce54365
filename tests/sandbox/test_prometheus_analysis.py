"""Analysis gates measured by a real Prometheus (issue 15's "Must show"): the sandbox's pods
count the traffic the ingress routes, Prometheus scrapes them every second, and the blue-green
Rollout's pre- and post-promotion analysis asks it for the new pods' error rate. The client is
driven through its CLI (``deploy``, ``promote``, ``wait``) as a pipeline would.

The rate window is real time (Prometheus scrapes real seconds); the analysis' ``initialDelay``
and ``interval`` are controller time, at the sandbox fixture's scale 0.01: 300 s = 3 s real,
enough for two scrapes of the new pods.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from gitops_release.sandbox.prometheus import Prometheus
from tests.conftest import Env, Traffic, remote_image

HASH = 'rollouts_pod_template_hash="{{args.hash}}"'
QUERY = (
    f'(sum(rate(http_requests_total{{code=~"5..",{HASH}}}[10s])) or vector(0))'
    f" / sum(rate(http_requests_total{{{HASH}}}[10s]))"
)
TEMPLATE = """apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  args:
  - name: hash
  metrics:
  - name: error-rate
    initialDelay: 300s
    interval: 100s
    count: 3
    successCondition: len(result) > 0 && result[0] < 0.05
    failureCondition: len(result) > 0 && result[0] >= 0.05
    provider:
      prometheus:
        address: "{address}"
        query: '{query}'
"""
GATE = """      {which}:
        templates:
        - templateName: error-rate
        args:
        - name: hash
          valueFrom:
            podTemplateHashValue: Latest
"""


@pytest.fixture
def gated(git_env: Env, prometheus: Prometheus) -> Iterator[Env]:
    """The guide's app with pre- and post-promotion analysis on the new pods' error rate as a
    real Prometheus measures it, v1 released, users on both hosts meanwhile."""
    env = git_env
    query = QUERY.replace("'", "''")
    (env.repo / "myapp" / "analysis.yaml").write_text(
        TEMPLATE.format(address=prometheus.url, query=query)
    )
    rollout = env.repo / "myapp" / "rollout.yaml"
    gates = GATE.format(which="prePromotionAnalysis") + GATE.format(which="postPromotionAnalysis")
    anchor = "      previewReplicaCount: 1"
    text = rollout.read_text(encoding="utf-8")
    rollout.write_text(text.replace(anchor, anchor + "\n" + gates.rstrip("\n")))
    env.git("add", ".")
    env.git("commit", "-qm", "myapp: analysis gates on the error rate")
    env.git("push", "-q", "origin", "main")
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    yield env


def runs(env: Env) -> dict[str, dict[str, Any]]:
    """The Rollout's AnalysisRuns as the dashboard lists them, by name."""
    url = f"{env.sb.rollouts_url}/rollouts/api/v1/rollouts/default/bluegreen-rollout/info"
    with urllib.request.urlopen(url, timeout=5) as resp:
        listed = json.loads(resp.read()).get("analysisRuns") or []
    return {r["objectMeta"]["name"]: r for r in listed}


def values(env: Env, run: dict[str, Any]) -> list[str]:
    """The measured values of the run's one metric, from the live AnalysisRun."""
    key = ("argoproj.io", "AnalysisRun", "default", run["objectMeta"]["name"])
    with env.sb.lock:
        live = env.sb.cluster.live_object(key)
    assert live is not None
    (metric,) = live["status"]["metricResults"]
    return [str(m.get("value")) for m in metric["measurements"]]


def test_a_healthy_version_passes_both_gates_measured_by_prometheus(gated: Env) -> None:
    """analysis_test.go TestBlueGreenAnalysis with a Prometheus metric: v2 answers without
    errors, its pre-promotion run succeeds on Prometheus' numbers, preview-ready, promote,
    the post-promotion run succeeds, released."""
    env = gated
    with Traffic(env.sb) as users:
        env.ok("deploy", "v2", "--app", "myapp", "--timeout", "90s")  # stops at preview-ready
        (pre,) = runs(env).values()
        assert pre["status"] == "Successful" and pre["objectMeta"]["name"].endswith("-pre")
        assert values(env, pre) == ["[0]"] * 3  # three measurements, no 5xx: a rate of 0
        env.ok("promote", "myapp")
        env.ok("wait", "myapp", "--for", "released", "--timeout", "90s")
    post = next(r for name, r in runs(env).items() if name.endswith("-post"))
    assert post["status"] == "Successful" and values(env, post) == ["[0]"] * 3
    assert "Version: v2" in str(env.host("prod.myapp.com"))
    assert users.prod_answers <= {"Version: v1", "Version: v2"}


def test_a_version_answering_20pc_errors_fails_pre_promotion_and_deploy_reverts(
    gated: Env,
) -> None:
    """analysis_test.go TestBlueGreenPrePromotionFail with a Prometheus metric: v3's pods answer
    one request in five with 500; the pre-promotion run fails on the error rate, ``deploy``
    exits 1 naming the metric and its value, writes v1 back to Git, and prod never sees v3."""
    env = gated
    env.sb.fail_image("ikubernetes/myapp:v3", "http-500", rate=0.2)
    with Traffic(env.sb) as users:
        code, _, err = env.cli("deploy", "v3", "--app", "myapp", "--timeout", "90s")
    assert code == 1, err
    assert 'metric "error-rate"' in err, err
    found = re.search(r"last value \[(0\.\d+)\] \(Failed\)", err)
    assert found and 0.1 < float(found[1]) < 0.3, err
    assert remote_image(env) == "ikubernetes/myapp:v1"
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    assert "Version: v3" not in users.prod_answers and "500" not in users.prod_answers
    (pre,) = runs(env).values()
    assert pre["status"] == "Failed"


def test_a_post_promotion_failure_rolls_traffic_back_to_stable(gated: Env) -> None:
    """analysis_test.go TestBlueGreenPostPromotionFail with a Prometheus metric: v2 passes
    pre-promotion, then starts failing one request in five once promoted; the post-promotion
    run fails, the Rollout aborts and prod is back on v1; ``wait --for released`` says why."""
    env = gated
    with Traffic(env.sb) as users:
        env.ok("deploy", "v2", "--app", "myapp", "--timeout", "90s")
        env.sb.fail_image("ikubernetes/myapp:v2", "http-500", rate=0.2)
        env.ok("promote", "myapp")
        code, _, err = env.cli("wait", "myapp", "--for", "released", "--timeout", "90s")
        assert code == 1, err
        assert 'metric "error-rate"' in err, err
        assert "Version: v1" in str(env.host("prod.myapp.com"))
    post = next(r for name, r in runs(env).items() if name.endswith("-post"))
    assert post["status"] == "Failed"
    assert "Version: v2" in users.prod_answers  # it was promoted, then rolled back
    status = json.loads(env.ok("status", "myapp", "-o", "json"))
    assert status["rollout"]["status"] == "Degraded"
