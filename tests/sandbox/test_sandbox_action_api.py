"""The sandbox's Argo CD resource-action API in the three shapes real servers have, at the HTTP
level: v2 and v1 both served (3.1.5 and later); v1 only (3.0 and older: the v2 route is an
unknown route, grpc-gateway's plain-text 404); v1 broken as in 3.1.0-3.1.4 (argo-cd#24490:
RunResourceAction forwards to RunResourceActionV2 without the action, so the built-in script
for "" is looked up and missing: gRPC Unknown, HTTP 500)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import GitOpsRepo, Http, application, until

from gitops_release.sandbox.server import Sandbox, SandboxConfig

APP = "/api/v1/applications/myapp"
RO = "namespace=default&resourceName=bluegreen-rollout&group=argoproj.io&kind=Rollout&version=v1alpha1"
V1 = f"{APP}/resource/actions?{RO}"
V2 = f"{APP}/resource/actions/v2"
LUA_ERROR = "error getting Lua resource action: built-in script does not exist"


def v2_body(action: str, **extra: Any) -> dict[str, Any]:
    """RunResourceActionV2's body (swagger applicationResourceActionRunRequestV2, body "*")."""
    return {
        "name": "myapp",
        "namespace": "default",
        "resourceName": "bluegreen-rollout",
        "group": "argoproj.io",
        "kind": "Rollout",
        "version": "v1alpha1",
        "action": action,
        "appNamespace": "argocd",
        "project": "default",
        "resourceActionParameters": [],
        **extra,
    }


def paused_app(sb: Sandbox, tmp_path: Path) -> Http:
    api = Http(sb.argocd_url, sb.token)
    repo = GitOpsRepo(tmp_path / "repo", sb.repo_url("gitops"), sb.git_env())
    assert api.call("POST", "/api/v1/applications", application(repo.url))[0] == 200
    until(lambda: api.get(APP)["status"]["health"]["status"] == "Healthy", what="v1 healthy")
    repo.set_image("v2")
    api.get(APP + "?refresh=normal")
    until(lambda: rollout(api)["status"].get("pauseConditions"), what="BlueGreenPause")
    return api


def rollout(api: Http) -> dict[str, Any]:
    return dict(json.loads(api.get(f"{APP}/resource?{RO}")["manifest"]))


def abort_retry_promote(api: Http, run: Any) -> None:
    """promote / abort / retry through whichever endpoint works, judged by the live Rollout."""
    assert run("abort") == (200, {})
    until(lambda: rollout(api)["status"].get("abort") is True, what="aborted")
    until(lambda: rollout(api)["status"]["phase"] == "Degraded", what="Degraded")
    assert run("retry") == (200, {})
    until(lambda: rollout(api)["status"].get("pauseConditions"), what="paused again after retry")
    assert run("resume") == (200, {})
    until(lambda: rollout(api)["status"]["phase"] == "Healthy", what="promoted")


def v1(api: Http) -> Any:
    return lambda action: api.call("POST", V1, raw=json.dumps(action).encode())


def v2(api: Http) -> Any:
    return lambda action: api.call("POST", V2, v2_body(action))


def test_v2_mode_serves_both_endpoints(sandbox: Sandbox, tmp_path: Path) -> None:
    assert sandbox.actions_api == "v2"
    api = paused_app(sandbox, tmp_path)
    assert Http(sandbox.argocd_url).get("/api/version")["Version"].startswith("v3.1.8")
    status, body = api.call("POST", V2, v2_body("no-such-action"))
    assert (status, body) == (500, {"error": LUA_ERROR, "code": 2, "message": LUA_ERROR})
    abort_retry_promote(api, v2(api))
    repo_app = api.get(APP)
    assert repo_app["status"]["health"]["status"] == "Healthy"
    status, body = api.call("POST", V1, raw=b'"restart"')
    assert (status, body) == (200, {})


def test_v1_only_mode_answers_v2_like_an_unknown_route(sandbox: Sandbox, tmp_path: Path) -> None:
    """Argo CD 3.0 and older: no RunResourceActionV2 route; grpc-gateway's
    DefaultOtherErrorHandler answers text/plain 'Not Found'."""
    api = paused_app(sandbox, tmp_path)
    control = Http(sandbox.argocd_url)
    assert control.call("POST", "/sandbox/api/v1/actions-api", {"mode": "v1-only"}) == (
        200,
        {"actionsApi": "v1-only"},
    )
    assert control.get("/sandbox/api/v1/state")["actionsApi"] == "v1-only"
    assert control.get("/api/version")["Version"].startswith("v3.0.")
    assert api.call("POST", V2, v2_body("resume")) == (404, "Not Found\n")
    assert rollout(api)["status"].get("pauseConditions")  # nothing ran
    abort_retry_promote(api, v1(api))


def test_v1_broken_mode_fails_v1_like_3_1_4(sandbox: Sandbox, tmp_path: Path) -> None:
    api = paused_app(sandbox, tmp_path)
    sandbox.set_actions_api("v1-broken")
    assert Http(sandbox.argocd_url).get("/api/version")["Version"].startswith("v3.1.4")
    status, body = api.call("POST", V1, raw=b'"resume"')
    assert (status, body) == (500, {"error": LUA_ERROR, "code": 2, "message": LUA_ERROR})
    assert rollout(api)["status"].get("pauseConditions")  # nothing ran
    # the app and resource lookups still come first: a missing app is 403 as ever
    status, body = api.call("POST", V1.replace("/myapp/", "/nope/"), raw=b'"resume"')
    assert (status, body["code"]) == (403, 7)
    abort_retry_promote(api, v2(api))


def test_the_mode_is_a_setting_and_an_environment_variable(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="v1-only"):
        Sandbox(SandboxConfig(actions_api="v4"))
    sb = Sandbox(SandboxConfig(time_scale=0.01, actions_api="v1-only", state_dir=tmp_path / "s"))
    assert sb.actions_api == "v1-only"
    status, body = Http(sb.start().argocd_url).call(
        "POST", "/sandbox/api/v1/actions-api", {"mode": "v3"}
    )
    try:
        assert (status, body["code"]) == (400, 3)
    finally:
        sb.stop()


def test_sandbox_up_takes_the_mode_from_the_environment(tmp_path: Path) -> None:
    import io
    import threading

    from gitops_release.sandbox import runner

    stop, out, err = threading.Event(), io.StringIO(), io.StringIO()
    config = SandboxConfig(time_scale=0.01, state_dir=tmp_path / "s")
    seen: dict[str, Any] = {}

    def serve() -> None:
        seen["code"] = runner.up(
            config, out=out, err=err, stop=stop, environ={"SANDBOX_ACTIONS_API": "v1-broken"}
        )

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        until(lambda: "SANDBOX_INGRESS" in out.getvalue(), what="exports")
        url = dict(
            line.removeprefix("export ").split("=", 1) for line in out.getvalue().splitlines()
        )["ARGOCD_SERVER"]
        assert Http(url).get("/api/version")["Version"].startswith("v3.1.4")
        assert Http(url).get("/sandbox/api/v1/state")["actionsApi"] == "v1-broken"
    finally:
        stop.set()
        thread.join(20)
    assert seen["code"] == 0
    with pytest.raises(SystemExit) as exit_:
        runner.up(config, out=out, err=err, stop=stop, environ={"SANDBOX_ACTIONS_API": "v9"})
    assert exit_.value.code == 2
    assert "SANDBOX_ACTIONS_API" in err.getvalue() and "v1-only" in err.getvalue()
