"""``deploy`` and ``rollback --to`` ask the registry before they clone or write: against the
sandbox (Argo CD) and the real registry, the remote's tip does not move."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from tests.conftest import Env

if TYPE_CHECKING:
    from tests.registry.conftest import Registry


@pytest.fixture(autouse=True)
def verify_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_VERIFY_IMAGE", "on")  # the users' default


def test_deploy_of_a_missing_tag_exits_2_and_writes_nothing(
    live_env: Env, registry: Registry
) -> None:
    registry.push("team/myapp", "v1")
    tip = live_env.git("ls-remote", "origin", "main")
    code, _out, err = live_env.cli(
        "deploy", f"{registry.host}/team/myapp:v3", "--app", "myapp", "--timeout", "30s"
    )
    assert code == 2, err
    assert f"registry {registry.host} has no tag v3 in team/myapp" in err
    assert "nearest existing: v1" in err and "step 1/4" not in err
    assert live_env.git("ls-remote", "origin", "main") == tip


def test_rollback_to_an_image_on_an_unreachable_registry_exits_4(live_env: Env) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{s.getsockname()[1]}"
    tip = live_env.git("ls-remote", "origin", "main")
    code, _out, err = live_env.cli("rollback", "myapp", "--to", f"{host}/team/myapp:v1")
    assert code == 4, err
    assert f"cannot reach registry {host}" in err
    assert live_env.git("ls-remote", "origin", "main") == tip
