"""Rollout control: which Rollout, the no-op checks, confirmation, the dashboard's base-path probe."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import pytest

from gitops_release.argo import rollouts
from gitops_release.argo.model import Application, Rollout, find_rollout
from gitops_release.argo.types import Action
from gitops_release.errors import Failed, RemoteError, UsageError
from tests.fake_http import FakeServer


def app_with(*names: str) -> Application:
    return Application.from_json(
        {
            "metadata": {"name": "web"},
            "spec": {"destination": {"namespace": "prod"}},
            "status": {
                "resources": [{"kind": "Rollout", "name": n, "namespace": "prod"} for n in names]
            },
        }
    )


def test_find_rollout() -> None:
    assert find_rollout(app_with("web")).name == "web"
    with pytest.raises(UsageError, match=r"several Rollouts: api, web .*--rollout NAME"):
        find_rollout(app_with("web", "api"))
    assert find_rollout(app_with("web", "api"), name="api").name == "api"
    with pytest.raises(UsageError, match="manages no Rollout"):
        find_rollout(app_with())
    with pytest.raises(UsageError, match="no Rollout named x"):
        find_rollout(app_with("web"), name="x")


PAUSED = Rollout(
    name="web",
    namespace="prod",
    phase="Paused",
    message="BlueGreenPause",
    pause_reasons=("BlueGreenPause",),
    current_pod_hash="h2",
    stable_rs="h1",
)


@dataclass
class Scripted:
    """A Control whose reads follow a script: what a real server would answer after the action."""

    states: list[Rollout]
    acted: list[Action] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "rollout prod/web"

    def read(self) -> Rollout:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def act(self, action: Action) -> None:
        self.acted.append(action)


def test_promote_confirms_the_pause_was_cleared() -> None:
    control = Scripted([PAUSED, PAUSED, replace(PAUSED, pause_reasons=(), phase="Progressing")])
    result = rollouts.run(control, Action.promote, app="web", sleep=lambda s: None)
    assert result.changed and control.acted == [Action.promote]


def test_promote_of_a_rollout_that_is_not_paused_is_refused() -> None:
    progressing = replace(
        PAUSED, phase="Progressing", message="more replicas need to be updated", pause_reasons=()
    )
    control = Scripted([progressing])
    with pytest.raises(Failed, match=r"not paused .* silent no-op"):
        rollouts.run(control, Action.promote, app="web")
    assert control.acted == []


def test_already_promoted_is_a_no_op_without_a_call() -> None:
    healthy = replace(PAUSED, phase="Healthy", message="", pause_reasons=(), stable_rs="h2")
    control = Scripted([healthy])
    result = rollouts.run(control, Action.promote, app="web")
    assert not result.changed and "already fully promoted" in result.message and control.acted == []


def test_unconfirmed_action_is_exit_4() -> None:
    clock = iter(range(100))
    control = Scripted([PAUSED])
    with pytest.raises(RemoteError, match="abort was accepted but rollout prod/web did not change"):
        rollouts.run(
            control,
            Action.abort,
            app="web",
            confirm_timeout=3,
            sleep=lambda s: None,
            clock=lambda: float(next(clock)),
        )


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer().start()
    yield fake
    fake.stop()


def test_dashboard_probe_prefers_rollouts_api_v1(server: FakeServer) -> None:
    server.routes[("GET", "/rollouts/api/v1/version")] = lambda r: (
        200,
        {"rolloutsVersion": "v1.9.0"},
    )
    assert rollouts.dashboard_client(server.url).base_url.endswith("/rollouts/api/v1")


def test_dashboard_probe_falls_back_to_api_v1_past_the_html_page(server: FakeServer) -> None:
    # <= 1.8 answers the UI's index.html with 200 for /rollouts/api/v1/...
    server.routes[("GET", "/rollouts/api/v1/version")] = lambda r: (
        200,
        b"<!doctype html><html></html>",
        {"Content-Type": "text/html"},
    )
    server.routes[("GET", "/api/v1/version")] = lambda r: (200, {"rolloutsVersion": "v1.8.3"})
    client = rollouts.dashboard_client(server.url)
    assert client.base_url == server.url + "/api/v1"


def test_dashboard_500_not_found_is_named(server: FakeServer) -> None:
    server.routes[("GET", "/rollouts/api/v1/version")] = lambda r: (200, {})
    server.routes[("GET", "/rollouts/api/v1/rollouts/prod/web/info")] = lambda r: (
        500,
        {"code": 2, "message": 'rollouts.argoproj.io "web" not found'},
    )
    client = rollouts.dashboard_client(server.url)
    client.retries = 0
    with pytest.raises(RemoteError, match="rollout prod/web not found on the Rollouts dashboard"):
        rollouts.DashboardControl(client, "prod", "web").read()


def test_an_action_refused_by_rbac_names_the_permission(server: FakeServer) -> None:
    """A 403 on a resource action says which RBAC permission is missing. ``ArgoCDControl.act``
    had the hint, but the client turned the 403 into a plain RemoteError first: never shown."""
    from gitops_release.argo.client import ArgoCD
    from gitops_release.argo.http import Client
    from gitops_release.argo.model import ResourceRef

    server.routes[("POST", "/api/v1/applications/web/resource/actions/v2")] = lambda r: (
        403,
        {"code": 7, "message": "permission denied: applications, action, default/web"},
    )
    argocd = ArgoCD(Client(server.url, name="Argo CD", token="tok", retries=0))
    control = rollouts.ArgoCDControl(argocd, "web", ResourceRef("Rollout", "web", "prod"))
    with pytest.raises(RemoteError) as caught:
        control.act(Action.promote)
    assert "Argo CD refused action resume on rollout prod/web" in caught.value.message
    assert caught.value.hint and "action/argoproj.io/Rollout/resume" in caught.value.hint
