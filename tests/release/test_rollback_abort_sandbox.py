"""``abort`` is GitOps-consistent: the abort action, then the stable image written back to Git,
so Argo CD and Git agree and the app is Healthy again (``--no-revert`` only aborts)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Env, remote_image


@pytest.fixture
def env(live_env: Env) -> Env:
    e = live_env
    e.ok("deploy", "v2", "--app", "myapp", "--timeout", "60s")
    assert "Version: v2" in str(e.host("test.myapp.com"))
    return e


def test_abort_then_status_is_healthy_on_stable_and_git_agrees(env: Env) -> None:
    record = env.tmp / "abort.json"
    out = env.ok("abort", "myapp", "--timeout", "60s", "--record", str(record))
    assert "abort done" in out and "Git and Argo CD back on ikubernetes/myapp:v1, Healthy" in out
    assert remote_image(env) == "ikubernetes/myapp:v1"
    head = env.git("rev-parse", "HEAD")
    assert (
        env.git("log", "-1", "--format=%s")
        == "revert(myapp): back to v1 after abort of v2 [skip ci]"
    )
    status = json.loads(env.ok("status", "myapp", "-o", "json"))
    assert status["health"] == "Healthy" and status["sync"] == "Synced"
    assert status["revision"] == head
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    data = json.loads(record.read_text())
    assert data["kind"] == "abort" and data["outcome"] == "reverted" and data["commit"] == head
    assert (
        data["from_image"] == "ikubernetes/myapp:v2" and data["to_image"] == "ikubernetes/myapp:v1"
    )
    # nothing left to abort: a second run changes nothing
    again = json.loads(env.ok("abort", "myapp", "--timeout", "60s", "-o", "json"))
    assert again["changed"] is False and again["revert"]["commit"] == ""


def test_abort_no_revert_only_aborts(env: Env) -> None:
    out = env.ok("abort", "myapp", "--no-revert")
    assert "abort done" in out and "Git" not in out
    assert remote_image(env) == "ikubernetes/myapp:v2"
    status = json.loads(env.ok("status", "myapp", "-o", "json"))
    assert status["health"] == "Degraded"
    assert "Version: v1" in str(env.host("prod.myapp.com"))


def test_revert_needs_the_argocd_app(env: Env) -> None:
    env.monkeypatch.delenv("ARGOCD_SERVER")
    code, _, err = env.cli("abort", "myapp", "--via", "dashboard")
    assert code == 2 and "--no-revert" in err
    assert remote_image(env) == "ikubernetes/myapp:v2"
