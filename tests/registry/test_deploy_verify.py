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


def test_deploy_semver_picks_the_highest_tag_in_range_before_cloning(
    live_env: Env, registry: Registry
) -> None:
    """``deploy REPOSITORY --semver RANGE``: the registry's tags decide, before Git is
    touched; ``--dry-run`` shows the candidates and the choice, the real run releases it."""
    import json

    for tag in ("v1.3.9", "v1.4.0", "v1.4.2", "v1.5.0-rc.1", "v2.0.0", "latest"):
        registry.push("team/myapp", tag)
    repository = f"{registry.host}/team/myapp"
    tip = live_env.git("ls-remote", "origin", "main")

    code, out, err = live_env.cli(
        "deploy", repository, "--semver", "~1.4", "--app", "myapp", "--dry-run", "-o", "json"
    )
    assert code == 0, err
    plan = json.loads(out)
    assert "--semver ~1.4: candidates v1.4.2, v1.4.0; choice v1.4.2" in plan["notes"]
    assert f"+        image: {repository}:v1.4.2\n" in plan["diff"]
    assert live_env.git("ls-remote", "origin", "main") == tip

    code, out, err = live_env.cli(
        "deploy", repository, "--semver", "^1.3", "--app", "myapp", "--timeout", "60s",
        "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert result["outcome"] == "preview-ready"
    assert result["new_image"] == f"{repository}:v1.4.2"
    assert result["semver"] == {
        "range": "^1.3", "candidates": ["v1.4.2", "v1.4.0", "v1.3.9"], "choice": "v1.4.2"
    }  # fmt: skip
    assert live_env.git("ls-remote", "origin", "main") != tip


def test_deploy_semver_with_no_tag_in_range_exits_2_and_writes_nothing(
    live_env: Env, registry: Registry
) -> None:
    registry.push("team/myapp", "v1.4.0")
    tip = live_env.git("ls-remote", "origin", "main")
    code, _out, err = live_env.cli(
        "deploy", f"{registry.host}/team/myapp", "--semver", "^2", "--app", "myapp"
    )
    assert code == 2, err
    assert f"no tag of {registry.host}/team/myapp satisfies '^2' (highest: v1.4.0)" in err
    assert "step 1/4" not in err
    assert live_env.git("ls-remote", "origin", "main") == tip
    code, _out, err = live_env.cli(
        "deploy", f"{registry.host}/team/myapp:v1.4.0", "--semver", "^1", "--app", "myapp"
    )
    assert code == 2 and "--semver ^1 picks the tag" in err, err


def test_deploy_semver_without_a_repository_takes_the_running_image(
    live_env: Env, registry: Registry
) -> None:
    """No TAG_OR_REF: the repository is the one of the image the Rollout runs now."""
    import json

    for tag in ("v1.0.0", "v1.2.0", "v1.2.3", "v1.3.0"):
        registry.push("team/myapp", tag)
    repository = f"{registry.host}/team/myapp"
    live_env.ok("deploy", f"{repository}:v1.0.0", "--app", "myapp", "--promote", "--timeout", "60s")
    code, out, err = live_env.cli(
        "deploy", "--semver", "~1.2", "--app", "myapp", "--dry-run", "-o", "json"
    )
    assert code == 0, err
    plan = json.loads(out)
    assert "--semver ~1.2: candidates v1.2.3, v1.2.0; choice v1.2.3" in plan["notes"]
    assert f"+        image: {repository}:v1.2.3\n" in plan["diff"]
    assert plan["command"] == "deploy --semver ~1.2 --app myapp"
