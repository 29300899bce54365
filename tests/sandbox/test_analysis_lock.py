"""The analysis controller measures outside the sandbox's lock: a metric that asks the sandbox
itself (its ingress, its API) gets an answer instead of waiting on the pass that is asking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scenario import Scenario, stepped_sandbox

from gitops_release.sandbox.server import Sandbox


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with stepped_sandbox(tmp_path) as sandbox:
        yield sandbox


def manifests(url: str) -> str:
    return f"""
kind: AnalysisTemplate
apiVersion: argoproj.io/v1alpha1
metadata: {{name: ask-the-sandbox}}
spec:
  metrics:
  - name: sandbox-state
    count: 2
    interval: 5s
    successCondition: result == 'default/self'
    consecutiveErrorLimit: 0
    provider:
      web:
        url: "{url}/sandbox/api/v1/state"
        jsonPath: "{{$.rollouts[0]}}"
        timeoutSeconds: 3
---
apiVersion: v1
kind: Service
metadata: {{name: self-active}}
spec: {{selector: {{app: self}}, ports: [{{port: 80}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: self-preview}}
spec: {{selector: {{app: self}}, ports: [{{port: 80}}]}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: self}}
spec:
  replicas: 1
  strategy:
    blueGreen:
      activeService: self-active
      previewService: self-preview
      prePromotionAnalysis:
        templates:
        - templateName: ask-the-sandbox
  selector:
    matchLabels: {{app: self}}
  template:
    metadata:
      labels: {{app: self}}
    spec:
      containers:
      - name: self
        image: nginx:1.19-alpine
"""


def runs(s: Scenario) -> list[dict[str, Any]]:
    return list(s.info().get("analysisRuns", []))


def test_a_metric_that_asks_the_sandbox_itself_is_measured(sb: Sandbox, tmp_path: Path) -> None:
    s = Scenario(sb, tmp_path, manifests(sb.argocd_url))
    s.healthy_rollout()
    s.update_spec()
    ended = ("Successful", "Failed", "Error", "Inconclusive")
    s.wait_for(lambda: runs(s) and runs(s)[0]["status"] in ended, "the run ends", 60)
    (run,) = runs(s)
    assert run["status"] == "Successful", run
    s.wait_for_status("Healthy", 60)
