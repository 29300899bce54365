"""``wait APP --for preview-ready`` alone (no ``deploy`` around it) on a Rollout whose
pre-promotion analysis runs (issue 15, target states): while the run measures, the wait says the
run, its metric and the measurements so far (the Application does not change meanwhile, so the
wait must look at the Rollout and its run by itself), and it does not call the preview ready
before the run is Successful."""

from __future__ import annotations

import json
import urllib.request

from tests.conftest import Env
from tests.fake_http import FakeServer

TEMPLATE = """apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  metrics:
  - name: error-rate
    count: 3
    interval: 200s
    successCondition: result < 0.01
    failureCondition: result >= 0.05
    provider:
      web:
        url: "{url}/rate"
        jsonPath: "{{$.rate}}"
"""
GATE = "      prePromotionAnalysis:\n        templates:\n        - templateName: error-rate"


def _pre_run_phase(env: Env) -> str:
    """The pre-promotion AnalysisRun's phase as the dashboard lists it."""
    url = f"{env.sb.rollouts_url}/rollouts/api/v1/rollouts/default/bluegreen-rollout/info"
    with urllib.request.urlopen(url, timeout=5) as resp:
        runs = json.loads(resp.read()).get("analysisRuns") or []
    (pre,) = [r for r in runs if r["objectMeta"]["name"].endswith("-pre")]
    return str(pre["status"])


def test_wait_alone_follows_a_running_pre_promotion_analysis(git_env: Env) -> None:
    """200 controller seconds between measurements (2 s here): several looks while it runs."""
    env = git_env
    fake = FakeServer().start()
    fake.routes[("GET", "/rate")] = lambda r: (200, {"rate": 0.001})
    try:
        (env.repo / "myapp" / "analysis.yaml").write_text(TEMPLATE.format(url=fake.url))
        rollout = env.repo / "myapp" / "rollout.yaml"
        anchor = "      previewReplicaCount: 1"
        rollout.write_text(rollout.read_text().replace(anchor, anchor + "\n" + GATE))
        env.git("add", ".")
        env.git("commit", "-qm", "myapp: analysis")
        env.git("push", "-q", "origin", "main")
        env.create_app()
        env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
        env.bump("v2")
        code, _, err = env.cli("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
        assert code == 0, err
        # not called ready before the run is Successful: all three measurements were taken
        assert _pre_run_phase(env) == "Successful"
        assert len([r for r in fake.requests if r.path == "/rate"]) == 3
    finally:
        fake.stop()
    running = [
        line
        for line in err.splitlines()
        if "pre-promotion analysis" in line and 'metric "error-rate"' in line and "Running" in line
    ]
    assert any("1 of 3 measurements (1 successful)" in line for line in running), err
    assert any("2 of 3 measurements (2 successful)" in line for line in running), err
