"""Argo CD connection settings, authentication, typed results and the 403/404 dance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_release import config
from gitops_release.argo import client as argocd
from gitops_release.argo import connection
from gitops_release.argo.model import ResourceRef
from gitops_release.errors import RemoteError, UsageError
from gitops_release.output import redact
from tests.fake_http import FakeServer, Request

CLI_CONFIG = """contexts:
- name: argocd.example.com
  server: argocd.example.com
  user: argocd.example.com
current-context: argocd.example.com
servers:
- grpc-web-root-path: ""
  server: argocd.example.com
  insecure: true
users:
- auth-token: cli-config-token-123
  name: argocd.example.com
"""


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer().start()
    yield fake
    fake.stop()


def resolve(env: dict[str, str], tmp_path: Path, **flags: object) -> config.Settings:
    return config.resolve(
        flags, environ=env, cwd=tmp_path, fallback=connection.read_cli_config(env)
    )


@pytest.mark.parametrize(
    ("given", "plaintext", "url"),
    [
        ("argocd.example.com:443", False, "https://argocd.example.com:443"),
        ("argocd.example.com:80", True, "http://argocd.example.com:80"),
        ("https://argocd.example.com/argocd/", False, "https://argocd.example.com/argocd"),
        ("http://127.0.0.1:8080", False, "http://127.0.0.1:8080"),
    ],
)
def test_server_url(given: str, plaintext: bool, url: str) -> None:
    assert connection.server_url(given, plaintext=plaintext) == url


def test_server_url_refuses_other_schemes() -> None:
    with pytest.raises(UsageError):
        connection.server_url("grpc://argocd:443")


def test_cli_config_current_context_is_the_fallback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config" / "argocd").mkdir(parents=True)
    (home / ".config" / "argocd" / "config").write_text(CLI_CONFIG)
    env = {"HOME": str(home)}
    settings = resolve(env, tmp_path)
    assert settings["argocd_server"] == "argocd.example.com"
    assert settings["argocd_auth_token"] == "cli-config-token-123"
    assert settings["insecure"] is True and settings.source("argocd_server") == "argocd config"
    assert "cli-config-token-123" not in redact("token cli-config-token-123")
    # the environment wins over the argocd CLI config
    env["ARGOCD_SERVER"] = "https://other.example.com"
    env["ARGOCD_AUTH_TOKEN"] = "env-token-456"
    settings = resolve(env, tmp_path)
    assert settings["argocd_server"] == "https://other.example.com"
    assert settings["argocd_auth_token"] == "env-token-456"


def test_argocd_opts_plaintext(tmp_path: Path) -> None:
    env = {
        "ARGOCD_SERVER": "argocd:80",
        "ARGOCD_OPTS": "--plaintext --grpc-web",
        "ARGOCD_AUTH_TOKEN": "t0k3n",
    }
    api = connection.connect(resolve(env, tmp_path))
    assert api.client.base_url == "http://argocd:80"
    assert api.client.verify is True


def test_token_file_and_missing_credentials(tmp_path: Path, server: FakeServer) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token-789\n")
    api = connection.connect(
        resolve({"ARGOCD_SERVER": server.url}, tmp_path), token_file=token_file
    )
    assert api.client.token == "file-token-789"
    with pytest.raises(UsageError, match="no Argo CD credentials"):
        connection.connect(resolve({"ARGOCD_SERVER": server.url}, tmp_path))
    with pytest.raises(UsageError, match="no Argo CD server"):
        connection.connect(resolve({}, tmp_path))
    with pytest.raises(UsageError, match="needs a password"):
        connection.connect(
            resolve({"ARGOCD_SERVER": server.url}, tmp_path, argocd_username="admin")
        )


def test_session_login(tmp_path: Path, server: FakeServer) -> None:
    def session(r: Request) -> tuple[object, ...]:
        body = r.json()
        if body == {"username": "admin", "password": "s3cret-pass"}:
            return (200, {"token": "jwt-from-login"})
        return (
            401,
            {
                "error": "Invalid username or password",
                "code": 16,
                "message": "Invalid username or password",
            },
        )

    server.routes[("POST", "/api/v1/session")] = session
    settings = resolve({"ARGOCD_SERVER": server.url}, tmp_path, argocd_username="admin")
    api = connection.connect(settings, password="s3cret-pass")
    assert api.client.token == "jwt-from-login"
    with pytest.raises(RemoteError, match="login as admin failed: Invalid username or password"):
        connection.connect(settings, password="wrong-pass")


APP = {
    "metadata": {"name": "web", "namespace": "argocd", "resourceVersion": "42"},
    "spec": {
        "project": "team",
        "source": {"repoURL": "https://git/x.git", "path": "apps/web", "targetRevision": "main"},
        "destination": {"namespace": "prod"},
        "syncPolicy": {"automated": {"prune": True}},
    },
    "status": {
        "sync": {"status": "Synced", "revision": "abc123"},
        "health": {"status": "Suspended"},
        "operationState": {
            "phase": "Running",
            "message": "waiting for healthy state of argoproj.io/Rollout/web",
            "syncResult": {"revision": "abc123"},
        },
        "history": [
            {
                "id": 3,
                "revision": "abc123",
                "deployedAt": "2026-01-01T00:00:00Z",
                "initiatedBy": {"automated": True},
            }
        ],
        "resources": [
            {
                "group": "argoproj.io",
                "version": "v1alpha1",
                "kind": "Rollout",
                "namespace": "prod",
                "name": "web",
                "status": "Synced",
                "health": {"status": "Suspended", "message": "BlueGreenPause"},
            }
        ],
    },
}


def test_typed_application_and_project_dance(tmp_path: Path, server: FakeServer) -> None:
    def get(r: Request) -> tuple[object, ...]:
        if r.path.endswith("/web"):
            return (200, APP)
        if "project" not in r.query:
            return (403, {"error": "permission denied", "code": 7, "message": "permission denied"})
        return (404, {"code": 5, "message": 'applications.argoproj.io "nope" not found'})

    server.routes[("GET", "/api/v1/applications/*")] = get
    api = connection.connect(
        resolve({"ARGOCD_SERVER": server.url, "ARGOCD_AUTH_TOKEN": "tok"}, tmp_path)
    )
    app = api.get_app("web")
    assert (app.project, app.path, app.auto_sync, app.sync_status, app.revision) == (
        "team",
        "apps/web",
        True,
        "Synced",
        "abc123",
    )
    assert app.operation is not None and app.operation.phase == "Running"
    rollout = app.resource("Rollout")
    assert rollout is not None and rollout.health_message == "BlueGreenPause"
    assert app.history[0].initiated_by == "automated"
    with pytest.raises(RemoteError) as info:
        api.get_app("nope")
    assert str(info.value).startswith(
        "application nope not found (check the name with `gitops-release list`"
    )
    assert [r.query.get("project") for r in server.requests[-2:]] == [None, ["default"]]


def test_forbidden_with_project_stays_forbidden(tmp_path: Path, server: FakeServer) -> None:
    server.routes[("GET", "/api/v1/applications/secret")] = lambda r: (
        403,
        {"code": 7, "message": "permission denied: applications, get, team/secret"},
    )
    api = connection.connect(
        resolve({"ARGOCD_SERVER": server.url, "ARGOCD_AUTH_TOKEN": "tok"}, tmp_path)
    )
    with pytest.raises(RemoteError, match="permission denied on application secret"):
        api.get_app("secret")


def test_action_body_is_a_bare_json_string(tmp_path: Path, server: FakeServer) -> None:
    server.routes[("POST", "/api/v1/applications/web/resource/actions")] = lambda r: (200, {})
    api = connection.connect(
        resolve({"ARGOCD_SERVER": server.url, "ARGOCD_AUTH_TOKEN": "tok"}, tmp_path)
    )
    api.run_action("web", ResourceRef("Rollout", "web", "prod"), "resume")
    req = server.requests[-1]
    assert json.loads(req.body) == "resume"
    assert req.query == {
        "namespace": ["prod"], "resourceName": ["web"], "group": ["argoproj.io"],
        "version": ["v1alpha1"], "kind": ["Rollout"],
    }  # fmt: skip


def test_refresh_that_blocks_too_long_falls_back_to_a_plain_get(
    tmp_path: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    release = threading.Event()

    def get(r: Request) -> tuple[object, ...]:
        if "refresh" in r.query:
            release.wait(5)  # ?refresh= blocks until the controller reconciles
        return (200, APP)

    server.routes[("GET", "/api/v1/applications/web")] = get
    monkeypatch.setattr(argocd, "REFRESH_TIMEOUT", 0.3)
    api = connection.connect(
        resolve({"ARGOCD_SERVER": server.url, "ARGOCD_AUTH_TOKEN": "tok"}, tmp_path)
    )
    try:
        assert api.refresh("web").name == "web"
    finally:
        release.set()
    assert [("refresh" in r.query) for r in server.requests] == [True, False]  # not retried


def test_tls_settings(tmp_path: Path) -> None:
    env = {
        "ARGOCD_SERVER": "argocd.example.com:443",
        "ARGOCD_AUTH_TOKEN": "tok",
        "ARGOCD_OPTS": "--insecure",
    }
    assert connection.connect(resolve(env, tmp_path)).client.verify is False
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    api = connection.connect(resolve({**env, "ARGOCD_OPTS": ""}, tmp_path, ca_bundle=str(bundle)))
    assert (
        api.client.verify == str(bundle) and api.client.base_url == "https://argocd.example.com:443"
    )
    with pytest.raises(UsageError, match=r"--ca-bundle .*: no such file"):
        connection.connect(resolve(env, tmp_path, ca_bundle=str(tmp_path / "missing.pem")))


# -- resource actions: v2 (Argo CD 3.1+), v1 (3.0 and older), v1 broken (3.1.0-3.1.4) ------------

ACTIONS = "/api/v1/applications/web/resource/actions"
LUA_ERROR = "error getting Lua resource action: built-in script does not exist"
WEB = ResourceRef("Rollout", "web", "prod")


def serve_actions(server: FakeServer, kind: str) -> None:
    """Answer the two action endpoints as a server of that kind does: ``v2`` (3.1.5+: both),
    ``v1-only`` (3.0 and older: no v2 route, grpc-gateway's plain-text 404) or ``v1-broken``
    (3.1.0-3.1.4, argo-cd#24490: v1 forwards to v2 without the action, gRPC Unknown)."""
    server.routes.pop(("POST", ACTIONS + "/v2"), None)
    server.routes[("POST", ACTIONS)] = lambda r: (200, {})
    if kind in ("v2", "v1-broken"):
        server.routes[("POST", ACTIONS + "/v2")] = lambda r: (200, {})
    if kind == "v1-broken":
        server.routes[("POST", ACTIONS)] = lambda r: (
            500,
            {"error": LUA_ERROR, "code": 2, "message": LUA_ERROR},
        )


def connect(server: FakeServer, tmp_path: Path) -> argocd.ArgoCD:
    return connection.connect(
        resolve({"ARGOCD_SERVER": server.url, "ARGOCD_AUTH_TOKEN": "tok"}, tmp_path)
    )


def action_calls(server: FakeServer) -> list[tuple[str, object]]:
    return [
        (r.path.removeprefix(ACTIONS) or "v1", r.json())
        for r in server.requests
        if r.path.startswith(ACTIONS)
    ]


def test_action_v2_body_names_the_resource_and_the_action(
    tmp_path: Path, server: FakeServer
) -> None:
    serve_actions(server, "v2")
    connect(server, tmp_path).run_action("web", WEB, "resume")
    assert action_calls(server) == [
        (
            "/v2",
            {
                "name": "web", "namespace": "prod", "resourceName": "web",
                "group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout",
                "action": "resume", "resourceActionParameters": [],
            },
        )
    ]  # fmt: skip


@pytest.mark.parametrize("kind", ["v2", "v1-only", "v1-broken"])
def test_actions_work_against_every_server_kind_and_the_choice_is_kept(
    tmp_path: Path, server: FakeServer, kind: str
) -> None:
    serve_actions(server, kind)
    api = connect(server, tmp_path)
    for action in ("resume", "abort", "retry"):
        api.run_action("web", WEB, action)
    calls = action_calls(server)
    if kind == "v1-only":  # one 404 on v2, then v1 for the rest of the run
        assert calls == [("/v2", calls[0][1]), ("v1", "resume"), ("v1", "abort"), ("v1", "retry")]
    else:
        assert [(path, body["action"]) for path, body in calls] == [  # type: ignore[index]
            ("/v2", "resume"), ("/v2", "abort"), ("/v2", "retry"),
        ]  # fmt: skip


def test_v1_broken_as_in_3_1_x_switches_back_to_v2(tmp_path: Path, server: FakeServer) -> None:
    """The server is upgraded from 3.0 to 3.1.4 during a run: v1 now answers argo-cd#24490's Lua
    error, which means "use v2"."""
    serve_actions(server, "v1-only")
    api = connect(server, tmp_path)
    api.run_action("web", WEB, "resume")
    serve_actions(server, "v1-broken")
    api.run_action("web", WEB, "abort")
    api.run_action("web", WEB, "retry")
    assert [path for path, _ in action_calls(server)] == ["/v2", "v1", "v1", "/v2", "/v2"]


def test_a_missing_resource_on_v2_is_not_taken_for_an_old_server(
    tmp_path: Path, server: FakeServer
) -> None:
    serve_actions(server, "v2")
    server.routes[("POST", ACTIONS + "/v2")] = lambda r: (
        404,
        {"code": 5, "message": 'rollouts.argoproj.io "web" not found'},
    )
    with pytest.raises(RemoteError, match=r'rollouts\.argoproj\.io "web" not found'):
        connect(server, tmp_path).run_action("web", WEB, "resume")
    assert [path for path, _ in action_calls(server)] == ["/v2"]


def test_an_unknown_action_on_v2_is_an_error_not_a_fallback(
    tmp_path: Path, server: FakeServer
) -> None:
    serve_actions(server, "v2")
    server.routes[("POST", ACTIONS + "/v2")] = lambda r: (
        500,
        {"error": LUA_ERROR, "code": 2, "message": LUA_ERROR},
    )
    with pytest.raises(RemoteError, match="built-in script does not exist"):
        connect(server, tmp_path).run_action("web", WEB, "frobnicate")
    assert [path for path, _ in action_calls(server)] == ["/v2"]


def test_a_multi_source_sync_names_the_revision_by_source_position(
    tmp_path: Path, server: FakeServer
) -> None:
    """Argo CD reads a bare ``revision`` only for a single source; a multi-source app takes
    ``revisions`` with 1-based ``sourcePositions`` (server/application: resolveSourceRevisions)."""
    server.routes[("POST", "/api/v1/applications/web/sync")] = lambda r: (200, {})
    api = connection.connect(
        resolve({"ARGOCD_SERVER": server.url, "ARGOCD_AUTH_TOKEN": "tok"}, tmp_path)
    )
    api.sync("web", revision="abc123", source_position=2)
    body = json.loads(server.requests[-1].body)
    assert (body["revisions"], body["sourcePositions"]) == (["abc123"], [2])
    assert "revision" not in body
    api.sync("web", revision="abc123")
    assert json.loads(server.requests[-1].body)["revision"] == "abc123"
