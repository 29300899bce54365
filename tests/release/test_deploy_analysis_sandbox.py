"""``deploy`` when the Rollout's pre-promotion analysis fails (issue 15): the same step 5 as a
failed smoke check: abort, write the stable image back to Git, wait Healthy; prod never sees it."""

from __future__ import annotations

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


@pytest.fixture
def errors_20pc() -> Iterator[FakeServer]:
    fake = FakeServer().start()
    fake.routes[("GET", "/rate")] = lambda r: (200, {"rate": 0.2})
    yield fake
    fake.stop()


def test_failed_pre_promotion_analysis_reverts_and_prod_never_sees_v3(
    git_env: Env, errors_20pc: FakeServer
) -> None:
    env = git_env
    (env.repo / "myapp" / "analysis.yaml").write_text(TEMPLATE.format(url=errors_20pc.url))
    rollout = env.repo / "myapp" / "rollout.yaml"
    text = rollout.read_text(encoding="utf-8")
    rollout.write_text(
        text.replace("      previewReplicaCount: 1", "      previewReplicaCount: 1\n" + GATE)
    )
    env.git("add", ".")
    env.git("commit", "-qm", "myapp: pre-promotion analysis")
    env.git("push", "-q", "origin", "main")
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    code, _, err = env.cli("deploy", "v3", "--app", "myapp", "--timeout", "60s")
    assert code == 1, err
    assert 'metric "error-rate"' in err and "last value 0.2 (Failed)" in err
    assert remote_image(env) == "ikubernetes/myapp:v1"
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    assert "v3" not in str(env.host("prod.myapp.com"))
