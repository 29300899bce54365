"""``rollback`` on the sandbox: a Git change, found from the release trailers."""

from __future__ import annotations

import json

import pytest

from gitops_release.release.rollback import previous_image
from tests.conftest import Env, remote_image


@pytest.fixture
def env(git_env: Env) -> Env:
    return git_env


def released(e: Env) -> None:
    e.create_app()
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    e.ok("deploy", "v2", "--app", "myapp", "--promote", "--timeout", "60s")
    assert "Version: v2" in str(e.host("prod.myapp.com"))


def test_rollback_to_v1_through_git_then_promote(env: Env) -> None:
    released(env)
    record = env.tmp / "rollback.json"
    out = env.ok(
        "rollback", "myapp", "--to", "v1", "--promote", "--timeout", "60s", "--record", str(record)
    )
    assert "rolled back to ikubernetes/myapp:v1 (released)" in out
    assert remote_image(env) == "ikubernetes/myapp:v1"
    subject = env.git("log", "-1", "--format=%s")
    assert subject == "rollback(myapp): v2 -> v1 [skip ci]"
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    status = json.loads(env.ok("status", "myapp", "-o", "json"))
    assert status["health"] == "Healthy" and status["revision"] == env.git("rev-parse", "HEAD")
    data = json.loads(record.read_text())
    assert data["kind"] == "rollback" and data["to_image"] == "ikubernetes/myapp:v1"
    assert data["commit"] == env.git("rev-parse", "HEAD") and data["outcome"] == "released"


def test_rollback_finds_the_previous_release_and_stops_at_preview(env: Env) -> None:
    released(env)
    data = json.loads(env.ok("rollback", "myapp", "--timeout", "60s", "-o", "json"))
    assert (
        data["from_image"] == "ikubernetes/myapp:v2" and data["to_image"] == "ikubernetes/myapp:v1"
    )
    assert data["outcome"] in ("preview-ready", "released")  # fast rollback counts too
    assert remote_image(env) == "ikubernetes/myapp:v1"


def test_history_rollback_is_refused_with_auto_sync(env: Env) -> None:
    released(env)
    code, _, err = env.cli("rollback", "myapp", "--via", "argocd-history", "--timeout", "30s")
    assert code == 2 and "auto-sync on" in err
    assert remote_image(env) == "ikubernetes/myapp:v2"


def test_previous_image_skips_what_a_revert_moved_away_from() -> None:
    v1, v2, v3 = (f"ikubernetes/myapp:{t}" for t in ("v1", "v2", "v3"))
    entries = [(v2, v3, True), (v3, v2, False), (v2, v1, False)]
    assert previous_image(entries, v2) == v1
    assert previous_image([(v2, v1, False)], v2) == v1
    assert previous_image([(v2, "", False)], v2) is None


def test_history_rollback_without_auto_sync_says_git_is_left_behind(env: Env) -> None:
    env.create_app(auto=False)
    env.ok("sync", "myapp", "--timeout", "60s")
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    env.ok("deploy", "v2", "--app", "myapp", "--promote", "--timeout", "60s")
    code, out, err = env.cli(
        "rollback", "myapp", "--via", "argocd-history", "--promote", "--timeout", "60s"
    )
    assert code == 0, err
    assert "rolled back to ikubernetes/myapp:v1 (released)" in out
    assert "Git still holds the newer image" in err
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    assert remote_image(env) == "ikubernetes/myapp:v2"


def test_rollback_to_a_version_never_run_is_refused_with_the_list(env: Env) -> None:
    """Issue 14, item 4: `--to v9`, never deployed, used to be committed and called a rollback."""
    released(env)
    tip = env.git("ls-remote", "origin", "refs/heads/main")
    code, out, err = env.cli("rollback", "myapp", "--to", "v9", "--timeout", "30s", "-o", "json")
    assert code == 2, err
    assert "myapp has never run v9" in err and "v1" in err and "deploy v9 --app myapp" in err
    assert json.loads(out)["exit_code"] == 2
    assert env.git("ls-remote", "origin", "refs/heads/main") == tip


def test_rollback_to_the_version_it_is_on_changes_nothing(env: Env) -> None:
    released(env)
    tip = env.git("ls-remote", "origin", "refs/heads/main")
    code, out, err = env.cli("rollback", "myapp", "--to", "v2", "--timeout", "30s")
    assert code == 0, err
    assert "already on v2" in out
    data = json.loads(env.ok("rollback", "myapp", "--to", "v2", "-o", "json"))
    assert data["changed"] is False
    assert env.git("ls-remote", "origin", "refs/heads/main") == tip
