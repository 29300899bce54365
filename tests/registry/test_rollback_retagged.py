"""``rollback`` to a tag re-pushed since it was released: against the sandbox (Argo CD) and the
real registry, the digest recorded in the release commit (``Release-Digest``) is compared with
the registry's now. A moved tag is refused (exit 2, nothing written) unless ``--allow-retagged``;
``--pin-digest`` goes back to the recorded digest. ``history`` shows the digests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.conftest import Env

if TYPE_CHECKING:
    from tests.registry.conftest import Registry


@pytest.fixture(autouse=True)
def verify_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_VERIFY_IMAGE", "on")  # the users' default


def _released_v1_then_v2(env: Env, registry: Registry) -> tuple[str, str]:
    v1 = registry.push("team/myapp", "v1")
    registry.push("team/myapp", "v2")
    image = f"{registry.host}/team/myapp"
    env.ok("deploy", f"{image}:v1", "--app", "myapp", "--promote", "--timeout", "60s")
    env.ok("deploy", "v2", "--app", "myapp", "--promote", "--timeout", "60s")
    return image, v1


def test_a_re_pushed_tag_is_refused_and_pin_digest_goes_back_to_what_ran(
    live_env: Env, registry: Registry
) -> None:
    image, v1 = _released_v1_then_v2(live_env, registry)
    rebuilt = registry.push("team/myapp", "v1", seed="v1, rebuilt")
    assert rebuilt != v1
    tip = live_env.git("ls-remote", "origin", "main")

    for args in (("--to", "v1"), ()):  # named, or found as the previous release
        code, _out, err = live_env.cli("rollback", "myapp", *args, "--timeout", "30s")
        assert code == 2, err
        assert "v1 was re-pushed since it was deployed" in err
        assert f"{rebuilt[:19]} in the registry" in err and f"recorded {v1[:19]}" in err
        assert "--pin-digest" in err and "--allow-retagged" in err
        assert live_env.git("ls-remote", "origin", "main") == tip

    data = json.loads(
        live_env.ok("rollback", "myapp", "--to", "v1", "--pin-digest", "--timeout", "60s",
                    "-o", "json")
    )  # fmt: skip
    assert data["to_image"] == f"{image}:v1@{v1}"
    live_env.git("pull", "-q", "origin", "main")
    assert f"image: {image}:v1@{v1}" in (live_env.repo / "myapp/rollout.yaml").read_text()

    history = live_env.ok("history", "myapp")
    assert "DIGEST" in history and v1[:19] in history
    rows = json.loads(live_env.ok("history", "myapp", "-o", "json"))["history"]
    assert {r["digest"] for r in rows} >= {v1}


def test_allow_retagged_goes_back_to_the_new_content(live_env: Env, registry: Registry) -> None:
    image, _v1 = _released_v1_then_v2(live_env, registry)
    registry.push("team/myapp", "v1", seed="v1, rebuilt")
    data = json.loads(
        live_env.ok("rollback", "myapp", "--to", "v1", "--allow-retagged", "--timeout", "60s",
                    "-o", "json")
    )  # fmt: skip
    assert data["to_image"] == f"{image}:v1"


def test_an_unmoved_tag_rolls_back_without_a_word(live_env: Env, registry: Registry) -> None:
    image, _v1 = _released_v1_then_v2(live_env, registry)
    data = json.loads(
        live_env.ok("rollback", "myapp", "--to", "v1", "--timeout", "60s", "-o", "json")
    )
    assert data["to_image"] == f"{image}:v1"
