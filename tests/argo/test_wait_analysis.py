"""Target states gated by the Rollout's pre- and post-promotion analysis, on the sandbox (issue 15):
the guide's app with an AnalysisTemplate whose web metric asks a real HTTP server on 127.0.0.1 for
the preview's error rate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

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
    interval: 5s
    successCondition: result < 0.01
    failureCondition: result >= 0.05
    failureLimit: 0
    provider:
      web:
        url: "{url}/rate"
        jsonPath: "{{$.rate}}"
"""


class Rate:
    def __init__(self) -> None:
        self.value: Any = 0.002


@pytest.fixture
def metrics() -> Iterator[tuple[FakeServer, Rate]]:
    fake, rate = FakeServer().start(), Rate()
    fake.routes[("GET", "/rate")] = lambda r: (200, {"rate": rate.value})
    yield fake, rate
    fake.stop()


def with_analysis(env: Env, url: str, which: str = "prePromotionAnalysis") -> None:
    """The guide's app, its Rollout gated by the error-rate template, released at v1."""
    (env.repo / "myapp" / "analysis.yaml").write_text(TEMPLATE.format(url=url))
    rollout = env.repo / "myapp" / "rollout.yaml"
    text = rollout.read_text(encoding="utf-8")
    gate = f"      {which}:\n        templates:\n        - templateName: error-rate\n"
    text = text.replace(
        "      previewReplicaCount: 1", "      previewReplicaCount: 1\n" + gate.rstrip("\n")
    )
    rollout.write_text(text, encoding="utf-8")
    env.git("add", ".")
    env.git("commit", "-qm", f"myapp: {which}")
    env.git("push", "-q", "origin", "main")
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")


def test_preview_ready_waits_for_a_successful_pre_promotion_analysis(
    git_env: Env, metrics: tuple[FakeServer, Rate]
) -> None:
    fake, _ = metrics
    with_analysis(git_env, fake.url)
    git_env.bump("v2")
    code, out, err = git_env.cli("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    assert code == 0, err
    assert "myapp is preview-ready" in out
    status = git_env.ok("status", "myapp")
    assert "AnalysisRun  ✔ Successful" in status and "✔ 3" in status
    assert len([r for r in fake.requests if r.path == "/rate"]) >= 3  # measured, not skipped


def test_failed_pre_promotion_analysis_fails_fast_naming_metric_and_value(
    git_env: Env, metrics: tuple[FakeServer, Rate]
) -> None:
    fake, rate = metrics
    with_analysis(git_env, fake.url)
    rate.value = 0.2
    git_env.bump("v3")
    code, _, err = git_env.cli("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    assert code == 1, err
    assert (
        'metric "error-rate" (successCondition: result < 0.01; failureCondition: result >= 0.05)'
        ": last value 0.2 (Failed)"
    ) in err
    assert "pre-promotion analysis" in err


def test_inconclusive_pre_promotion_analysis_stops_for_a_person(
    git_env: Env, metrics: tuple[FakeServer, Rate]
) -> None:
    fake, rate = metrics
    with_analysis(git_env, fake.url)
    rate.value = 0.02  # neither condition holds
    git_env.bump("v2")
    code, _, err = git_env.cli("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    assert code == 1, err
    assert "is Inconclusive" in err and "a person must decide" in err
    assert "last value 0.02" in err
