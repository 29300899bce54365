"""``deploy`` end to end on the sandbox (real sockets, real git pushes to the sandbox's git server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_release.record import DOTENV_KEYS, read_dotenv
from gitops_release.sandbox.server import Sandbox
from tests.conftest import Env, make_env, remote_image


@pytest.fixture
def env(live_env: Env) -> Env:
    return live_env


def test_deploy_stops_at_preview_ready_then_rerun_is_a_noop(env: Env) -> None:
    out = env.tmp / "deploy.env"
    record = env.tmp / "release.json"
    code, stdout, err = env.cli(
        "deploy", "v2", "--app", "myapp", "--check", "preview", "--expect", "Version: v2",
        "--check", "prod", "--ingress-url", env.sb.ingress_url, "--timeout", "60s",
        "--dotenv", str(out), "--record", str(record),
    )  # fmt: skip
    assert code == 0, err
    assert "preview-ready" in stdout
    for step in ("step 1/4", "step 2/4", "step 3/4", "check preview", "check prod"):
        assert step in err
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    assert "Version: v2" in str(env.host("test.myapp.com"))
    assert remote_image(env) == "ikubernetes/myapp:v2"
    dotenv = read_dotenv(out.read_text())
    assert list(dotenv) == list(DOTENV_KEYS)
    assert dotenv["NEW_TAG"] == "v2" and dotenv["PREVIOUS_TAG"] == "v1"
    assert dotenv["RELEASE_COMMIT"] == env.git("rev-parse", "HEAD")
    assert dotenv["PREVIEW_URL"] == "http://test.myapp.com"
    assert dotenv["PROD_URL"] == "http://prod.myapp.com"
    assert dotenv["ROLLOUT_REVISION"] == "2"
    data = json.loads(record.read_text())
    assert data["kind"] == "deploy" and data["outcome"] == "preview-ready"
    assert (
        data["old_image"] == "ikubernetes/myapp:v1" and data["new_image"] == "ikubernetes/myapp:v2"
    )
    assert [c["check"] for c in data["checks"]] == ["preview", "prod"]
    assert all(c["ok"] for c in data["checks"])
    assert data["inputs"]["tag_or_ref"] == "v2"

    # the same deploy again: nothing to write, still preview-ready
    code, stdout, err = env.cli("deploy", "v2", "--app", "myapp", "--timeout", "60s", "-o", "json")
    assert code == 0, err
    again = json.loads(stdout)
    assert again["changed"] is False and again["outcome"] == "preview-ready"
    # another version while v2 waits for promotion is refused
    code, _, err = env.cli("deploy", "v3", "--app", "myapp", "--timeout", "60s")
    assert code == 5 and "another release of myapp is in progress" in err
    assert remote_image(env) == "ikubernetes/myapp:v2"


def test_deploy_promote_ends_released(env: Env) -> None:
    code, stdout, err = env.cli(
        "deploy", "v2", "--app", "myapp", "--promote", "--check", "preview",
        "--expect", "Version: v2", "--ingress-url", env.sb.ingress_url, "--timeout", "60s",
        "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(stdout)
    assert data["outcome"] == "released"
    assert [c["check"] for c in data["checks"]] == ["preview", "prod"]
    assert "Version: v2" in str(env.host("prod.myapp.com"))
    assert "Version: v2" in str(env.host("test.myapp.com"))
    # re-run after success: a no-op success
    code, stdout, err = env.cli("deploy", "v2", "--app", "myapp", "--promote", "-o", "json")
    assert code == 0, err
    assert json.loads(stdout)["changed"] is False


def test_failing_version_is_aborted_and_reverted_in_git(env: Env) -> None:
    env.sb.fail_image("ikubernetes/myapp:v2", "never-ready")
    record = env.tmp / "release.json"
    code, _, err = env.cli(
        "deploy", "v2", "--app", "myapp", "--timeout", "3s", "--record", str(record)
    )
    assert code == 6, err
    assert "aborting the rollout" in err and "Healthy on ikubernetes/myapp:v1 again" in err
    assert remote_image(env) == "ikubernetes/myapp:v1"
    subject = env.git("log", "-1", "--format=%s")
    assert (
        subject.startswith("revert(myapp): back to v1 after v2 timed out")
        and "[skip ci]" in subject
    )
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    status = env.ok("status", "myapp", "-o", "json")
    assert json.loads(status)["health"] == "Healthy"
    data = json.loads(record.read_text())
    assert data["outcome"] == "reverted" and data["revert_commit"] == env.git("rev-parse", "HEAD")


def test_failed_smoke_check_is_aborted_and_reverted(env: Env) -> None:
    env.sb.fail_image("ikubernetes/myapp:v2", "http-500")
    code, _, err = env.cli(
        "deploy", "v2", "--app", "myapp", "--check", "preview", "--ingress-url",
        env.sb.ingress_url, "--check-timeout", "2s", "--timeout", "60s",
    )  # fmt: skip
    assert code == 1, err
    assert "smoke check preview failed" in err and "HTTP 500" in err
    assert remote_image(env) == "ikubernetes/myapp:v1"
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    data = json.loads(env.ok("status", "myapp", "-o", "json"))
    assert data["health"] == "Healthy"


def test_rerun_after_an_interruption_continues_from_the_pushed_commit(env: Env) -> None:
    v2 = env.bump("v2")  # as if a deploy was cut off right after its push
    code, stdout, err = env.cli("deploy", "v2", "--app", "myapp", "--timeout", "60s", "-o", "json")
    assert code == 0, err
    data = json.loads(stdout)
    assert data["changed"] is False and data["outcome"] == "preview-ready"
    assert data["argocd_revision"] == v2
    assert "Git already holds ikubernetes/myapp:v2" in err
    assert env.sb.git_token not in err and env.sb.token not in err


def test_deploy_syncs_an_app_without_auto_sync(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
) -> None:
    e = make_env(tmp_path, monkeypatch, capsys, sandbox)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sandbox.git_token)
    e.create_app(auto=False)
    e.ok("sync", "myapp", "--timeout", "60s")
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    code, stdout, err = e.cli("deploy", "v2", "--app", "myapp", "--promote", "--timeout", "60s")
    assert code == 0, err
    assert "sync started at" in err and "released" in stdout
    assert "Version: v2" in str(e.host("prod.myapp.com"))


def test_deploy_of_an_app_whose_repo_url_is_a_bare_repository_path(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
) -> None:
    """Issue 14, item 12: an Application whose ``repoURL`` is a path (``/srv/git/gitops.git``,
    which Argo CD and git both take) failed with "not inside a git checkout"; deploy clones it."""
    import subprocess

    from tests.conftest import APP_YAML, AUTO

    e = make_env(tmp_path, monkeypatch, capsys, sandbox)
    bare = tmp_path / "srv" / "gitops.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    e.git("push", "-q", str(bare), "main")
    app_file = tmp_path / "myapp-app.yaml"
    app_file.write_text(APP_YAML.format(repo=str(bare), policy=AUTO))
    e.ok("app", "create", "--file", str(app_file))
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    monkeypatch.chdir(tmp_path)
    code, stdout, err = e.cli("deploy", "v2", "--app", "myapp", "--timeout", "60s", "-o", "json")
    assert code == 0, err
    assert json.loads(stdout)["outcome"] == "preview-ready"
    shown = subprocess.run(
        ["git", "show", "main:myapp/rollout.yaml"], cwd=bare, capture_output=True, text=True
    ).stdout
    assert "ikubernetes/myapp:v2" in shown
