"""promote, abort, retry and restart through Argo CD against the sandbox serving the resource-action
API as each supported server does: 3.1.5+ (``v2``: both endpoints), 3.0 and older (``v1-only``:
no v2 route) and 3.1.0-3.1.4 (``v1-broken``: v1 fails with argo-cd#24490's Lua error)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Env

V1 = ("POST", "/api/v1/applications/{name}/resource/actions")
V2 = ("POST", "/api/v1/applications/{name}/resource/actions/v2")


def action_calls(env: Env) -> list[str]:
    return ["v2" if call == V2 else "v1" for call in env.sb.requests if call in (V1, V2)]


@pytest.mark.parametrize("mode", ["v2", "v1-only", "v1-broken"])
def test_control_works_against_every_action_api(live_env: Env, mode: str) -> None:
    env = live_env
    env.sb.set_actions_api(mode)
    env.ok("deploy", "v2", "--app", "myapp", "--timeout", "60s")
    env.sb.requests.clear()
    assert "abort done" in env.ok("abort", "myapp", "--no-revert")
    assert json.loads(env.ok("status", "myapp", "-o", "json"))["rollout"]["status"] == "Degraded"
    assert "retry done" in env.ok("retry", "myapp")
    env.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    assert "promote done" in env.ok("promote", "myapp", "--wait", "--timeout", "60s")
    assert "Version: v2" in str(env.host("prod.myapp.com"))
    assert "restart done" in env.ok("restart", "myapp")
    # each command is one run: it learns the endpoint once (a 404 on v2 for an old server)
    expected = {
        "v2": ["v2"] * 4,
        "v1-only": ["v2", "v1"] * 4,
        "v1-broken": ["v2"] * 4,
    }
    assert action_calls(env) == expected[mode]
