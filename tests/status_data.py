"""The status tree's fixed world, shared by the golden tests of ``views`` (``test_views.py``) and
of the Argo CD payloads (``test_views_argocd.py``): one clock, the guide's two images and
ReplicaSets. A plain module, not a test module, so no test module imports another."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden" / "status"
NOW = dt.datetime(2024, 6, 23, 12, 0, 0, tzinfo=dt.UTC)


def ago(seconds: int) -> str:
    return (NOW - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def later(seconds: int) -> str:
    return (NOW + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


V1, V2 = "ikubernetes/myapp:v1", "ikubernetes/myapp:v2"
RS1, RS2 = "bluegreen-rollout-69dc9f5f56", "bluegreen-rollout-95d95c65"
