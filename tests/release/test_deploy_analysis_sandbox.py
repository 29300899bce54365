"""``deploy`` when the Rollout's pre- or post-promotion analysis fails (issue 15): the same step 5
as a failed smoke check: abort, write the stable image back to Git, wait Healthy; prod never sees
it (pre) or goes back to stable (post). Progress lines, ``--record`` and ``-o json`` name the
AnalysisRun, its metric and the measurements."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import Env, remote_image
from tests.fake_http import FakeServer

TEMPLATE = """apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  metrics:
  - name: error-rate
    count: 3
    interval: 5s
    successCondition: result < 0.01
    failureCondition: result >= 0.05
    provider:
      web:
        url: "{url}/rate"
        jsonPath: "{{$.rate}}"
"""
GATE = "      prePromotionAnalysis:\n        templates:\n        - templateName: error-rate"
POST_GATE = GATE.replace("prePromotionAnalysis", "postPromotionAnalysis")


@pytest.fixture
def errors_20pc() -> Iterator[FakeServer]:
    fake = FakeServer().start()
    fake.routes[("GET", "/rate")] = lambda r: (200, {"rate": 0.2})
    yield fake
    fake.stop()


@pytest.fixture
def degrading() -> Iterator[FakeServer]:
    """0.1% errors at the first measurement, 20% from the second on."""
    fake = FakeServer().start()
    rates = iter([0.001])
    fake.routes[("GET", "/rate")] = lambda r: (200, {"rate": next(rates, 0.2)})
    yield fake
    fake.stop()


def _gate(env: Env, url: str, gate: str, interval: str = "5s") -> None:
    template = TEMPLATE.format(url=url).replace("interval: 5s", f"interval: {interval}")
    (env.repo / "myapp" / "analysis.yaml").write_text(template)
    rollout = env.repo / "myapp" / "rollout.yaml"
    text = rollout.read_text(encoding="utf-8")
    rollout.write_text(
        text.replace("      previewReplicaCount: 1", "      previewReplicaCount: 1\n" + gate)
    )
    env.git("add", ".")
    env.git("commit", "-qm", "myapp: analysis")
    env.git("push", "-q", "origin", "main")
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")


def _recorded_run(runs: list[dict[str, object]], role: str) -> dict[str, object]:
    [run] = [r for r in runs if r["role"] == role]
    return run


def test_failed_pre_promotion_analysis_reverts_and_prod_never_sees_v3(
    git_env: Env, degrading: FakeServer
) -> None:
    env = git_env
    _gate(env, degrading.url, GATE)
    record = env.tmp / "release.json"
    code, out, err = env.cli(
        "deploy", "v3", "--app", "myapp", "--timeout", "60s", "--record", str(record),
        "-o", "json",
    )  # fmt: skip
    assert code == 1, err
    assert 'metric "error-rate"' in err and "last value 0.2 (Failed)" in err
    assert remote_image(env) == "ikubernetes/myapp:v1"
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    assert "v3" not in str(env.host("prod.myapp.com"))
    # progress: which run, which metric, the measurements so far
    assert "pre-promotion analysis bluegreen-rollout-" in err
    assert "2 of 3 measurements (1 successful, 1 failed)" in err, err
    # the record and the JSON document: each AnalysisRun, its phase, its metrics' last value
    for runs in (json.loads(record.read_text())["analysis"], json.loads(out)["result"]["analysis"]):
        run = _recorded_run(runs, "pre-promotion")
        assert str(run["name"]).startswith("bluegreen-rollout-") and run["phase"] == "Failed"
        [metric] = run["metrics"]  # type: ignore[misc]
        assert metric["name"] == "error-rate" and metric["phase"] == "Failed"
        assert metric["successCondition"] == "result < 0.01"
        assert metric["last"]["value"] == "0.2" and metric["last"]["phase"] == "Failed"


def test_failed_post_promotion_analysis_rolls_back_to_stable_and_reverts_git(
    git_env: Env, errors_20pc: FakeServer
) -> None:
    """Upstream's ``PostPromotionFail`` under ``deploy --promote``: the switch happened, the
    analysis after it fails, traffic goes back to stable and Git is written back, exit 1
    naming the metric and the value."""
    env = git_env
    _gate(env, errors_20pc.url, POST_GATE)
    record = env.tmp / "release.json"
    code, _, err = env.cli(
        "deploy", "v3", "--app", "myapp", "--promote", "--timeout", "60s",
        "--record", str(record),
    )  # fmt: skip
    assert code == 1, err
    assert "post-promotion analysis" in err
    assert 'metric "error-rate"' in err and "last value 0.2 (Failed)" in err
    assert remote_image(env) == "ikubernetes/myapp:v1"
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    data = json.loads(record.read_text())
    assert data["outcome"] == "reverted" and data["revert_commit"]
    run = _recorded_run(data["analysis"], "post-promotion")
    assert run["phase"] == "Failed"


def test_successful_analysis_is_reported_in_progress_and_record(git_env: Env) -> None:
    """While the run measures, the wait says which run and metric and the measurements so far
    (200 controller seconds between measurements: 2 s here, more than one look at the details;
    the three stay within the progress deadline)."""
    fake = FakeServer().start()
    fake.routes[("GET", "/rate")] = lambda r: (200, {"rate": 0.001})
    try:
        env = git_env
        _gate(env, fake.url, GATE, interval="200s")
        record = env.tmp / "release.json"
        code, _, err = env.cli(
            "deploy", "v2", "--app", "myapp", "--promote", "--timeout", "60s",
            "--record", str(record),
        )  # fmt: skip
    finally:
        fake.stop()
    assert code == 0, err
    assert "pre-promotion analysis bluegreen-rollout-" in err
    assert "Successful" in err and "3 of 3 measurements (3 successful)" in err, err
    waiting = [line for line in err.splitlines() if "waiting for myapp to be preview-ready" in line]
    assert any(
        "pre-promotion analysis" in line
        and 'metric "error-rate"' in line
        and "Running" in line
        and "1 of 3 measurements (1 successful)" in line
        for line in waiting
    ), err
    run = _recorded_run(json.loads(record.read_text())["analysis"], "pre-promotion")
    assert run["phase"] == "Successful"
    assert run["metrics"][0]["last"]["value"] == "0.001"  # type: ignore[index]


def test_a_scaffolded_analysis_gate_is_accepted_by_the_sandbox_and_runs(git_env: Env) -> None:
    """``scaffold --analysis web``: the sandbox takes the AnalysisTemplate and the Rollout's
    prePromotionAnalysis from Git, runs it on the next release (its service-name arg is the
    preview Service), and deploy reports it Successful."""
    env = git_env
    fake = FakeServer().start()
    fake.routes[("GET", "/rate")] = lambda r: (200, {"rate": 0.001})
    try:
        env.ok(
            "scaffold", "shop", "--image", "ikubernetes/myapp:v1", "--prod-host", "prod.shop.com",
            "--preview-host", "test.shop.com", "--repo-dir", str(env.repo),
            "--repo-url", env.sb.repo_url("gitops"), "--target-revision", "main",
            "--analysis", "web", "--url", fake.url + "/rate?service={{args.service-name}}",
            "--json-path", "{$.rate}", "--success-condition", "result < 0.01",
            "--analysis-interval", "5s",
        )  # fmt: skip
        env.git("add", ".")
        env.git("commit", "-qm", "add shop with an analysis gate")
        env.git("push", "-q", "origin", "main")
        env.ok("app", "create", "--file", str(env.repo / "argocd" / "shop.yaml"))
        env.ok("wait", "shop", "--for", "released", "--timeout", "60s")
        record = env.tmp / "release.json"
        code, _, err = env.cli(
            "deploy", "v2", "--app", "shop", "--timeout", "60s", "--record", str(record)
        )
        assert code == 0, err
        status = env.ok("status", "shop")
    finally:
        fake.stop()
    assert "AnalysisRun  ✔ Successful" in status
    run = _recorded_run(json.loads(record.read_text())["analysis"], "pre-promotion")
    assert run["phase"] == "Successful"
    asked = [r.query.get("service") for r in fake.requests if r.path == "/rate"]
    assert len(asked) == 3 and asked[0] == ["shop-preview"]
