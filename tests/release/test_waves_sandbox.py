"""``deploy --set ... --wave ...`` on the sandbox (issue 17): three Argo CD apps (api, worker,
web), one directory and one namespace each in one GitOps repository, released from ONE commit
wave by wave, and put back on stable by ONE revert commit when a wave fails."""

from __future__ import annotations

import json
import shutil

import pytest

from gitops_release.record import read_dotenv
from gitops_release.sandbox.server import Sandbox
from tests.conftest import APP_YAML, AUTO, Env, make_env

APPS = ("api", "worker", "web")


def _image(env: Env, name: str) -> str:
    env.git("pull", "-q", "origin", "main")
    text = (env.repo / name / "rollout.yaml").read_text()
    return next(line.split()[-1] for line in text.splitlines() if "image:" in line)


@pytest.fixture
def three(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> Env:
    env = make_env(tmp_path, monkeypatch, capsys, sandbox)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sandbox.git_token)
    for name in APPS:
        shutil.copytree(env.repo / "myapp", env.repo / name)
    shutil.rmtree(env.repo / "myapp")
    env.git("add", "-A")
    env.git("commit", "-qm", "api, worker and web")
    env.git("push", "-q", "origin", "main")
    for name in APPS:
        manifest = (
            APP_YAML.format(repo=sandbox.repo_url("gitops"), policy=AUTO if name != "web" else "")
            .replace("name: myapp\n", f"name: {name}\n")
            .replace("path: myapp\n", f"path: {name}\n")
            .replace("namespace: default\n", f"namespace: {name}\n")
        )
        (tmp_path / f"app-{name}.yaml").write_text(manifest)
        env.ok("app", "create", "--file", str(tmp_path / f"app-{name}.yaml"))
    env.ok("sync", "web", "--timeout", "60s")  # web has no auto-sync: deploy syncs it
    for name in APPS:
        env.ok("wait", name, "--for", "released", "--timeout", "60s")
    return env


def _released_on_v1(env: Env) -> None:
    for name in APPS:
        assert _image(env, name) == "ikubernetes/myapp:v1"
        data = json.loads(env.ok("status", name, "-o", "json"))
        assert data["health"] == "Healthy", data


def test_a_set_whose_second_wave_fails_is_put_back_by_one_revert_commit(three: Env) -> None:
    env = three
    env.sb.fail_image("ikubernetes/myapp:v3", "never-ready")
    before = env.git("rev-parse", "HEAD")
    record, dotenv = env.tmp / "set.json", env.tmp / "set.env"
    code, _, err = env.cli(
        "deploy", "--set", "api=v2", "--set", "worker=v2", "--set", "web=v3",
        "--wave", "api,worker", "--wave", "web", "--promote", "--timeout", "60s",
        "--record", str(record), "--dotenv", str(dotenv),
    )  # fmt: skip
    assert code == 1, err
    assert "wave 1: api, worker released" in err
    assert "aborting every app still on its way" in err
    env.git("pull", "-q", "origin", "main")
    log = env.git("log", "--format=%s", f"{before}..HEAD").splitlines()
    assert len(log) == 2, log  # one release commit, one revert commit
    assert log[0].startswith("revert(api, worker, web): back to stable") and "[skip ci]" in log[0]
    assert log[1] == "release(api, worker, web): api v1 -> v2, worker v1 -> v2, web v1 -> v3"
    _released_on_v1(env)
    data = json.loads(record.read_text())
    assert data["outcome"] == "reverted" and data["failed_wave"] == 2
    assert data["revert_commit"] == env.git("rev-parse", "HEAD")
    outcomes = {a["app"]: a["outcome"] for a in data["apps"]}
    assert outcomes == {"api": "reverted", "worker": "reverted", "web": "reverted"}
    values = read_dotenv(dotenv.read_text())
    assert values["RELEASE_OUTCOME"] == "reverted"
    assert values["API_NEW_TAG"] == "v2" and values["WEB_NEW_TAG"] == "v3"
    assert values["WORKER_PREVIOUS_TAG"] == "v1"


def test_a_set_in_two_waves_is_released_from_one_commit(three: Env) -> None:
    env = three
    before = env.git("rev-parse", "HEAD")
    code, out, err = env.cli(
        "deploy", "--set", "api=v2", "--set", "worker=v2", "--set", "web=v2",
        "--wave", "web", "--promote", "--timeout", "60s", "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    assert "web: refreshed and sync started" in err
    data = json.loads(out)
    assert data["outcome"] == "released"
    assert data["waves"] == [["web"], ["api", "worker"]]
    assert err.index("wave 1: web released") < err.index("wave 2: api, worker")
    env.git("pull", "-q", "origin", "main")
    assert env.git("rev-list", "--count", f"{before}..HEAD") == "1"
    for name in APPS:
        assert _image(env, name) == "ikubernetes/myapp:v2"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--set", "api=v2", "--wave", "api,nope"], "nope is not in the set"),
        (["--set", "api=v2", "--set", "web=v2", "--wave", "api", "--wave", "api"], "in wave 1"),
        (["--set", "api=v2", "--set", "api=v3"], "--set names api twice"),
        (["v2", "--set", "api=v2"], "mixed"),
    ],
)
def test_bad_set_deploys_exit_2_and_write_nothing(three: Env, args: list[str], says: str) -> None:
    env = three
    before = env.git("ls-remote", "origin", "main")
    code, _, err = env.cli("deploy", *args)
    assert code == 2, err
    assert says in err
    assert env.git("ls-remote", "origin", "main") == before


def test_a_set_dry_run_shows_the_plan_and_changes_nothing(three: Env) -> None:
    env = three
    before = env.git("ls-remote", "origin", "main")
    code, out, err = env.cli(
        "deploy", "--set", "api=v2", "--set", "web=v2", "--wave", "api", "--promote", "--dry-run",
    )  # fmt: skip
    assert code == 0, err
    assert "commit ONE change for the set" in out
    assert out.index("wave 1: api") < out.index("wave 2: web")
    assert "sync application web" in out  # no auto-sync on web: the plan syncs it
    assert env.git("ls-remote", "origin", "main") == before


def test_bump_image_set_of_argocd_applications_is_one_commit(three: Env) -> None:
    env = three
    before = env.git("ls-remote", "origin", "main").split()[0]
    code, out, err = env.cli(
        "bump-image", "--set", "api=v2", "--set", "worker=v3", "--argocd-apps", "-o", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["set"] == ["api", "worker"] and data["pushed"] is True
    env.git("pull", "-q", "origin", "main")
    assert env.git("rev-list", "--count", f"{before}..HEAD") == "1"
    changed = env.git("show", "--name-only", "--format=", "HEAD").splitlines()
    assert sorted(changed) == ["api/rollout.yaml", "worker/rollout.yaml"]
    assert _image(env, "worker") == "ikubernetes/myapp:v3"
    code, _, err = env.cli("bump-image", "--set", "api=v4", "--set", "nope=v4", "--argocd-apps")
    assert code == 4 and "nope" in err  # Argo CD does not know it (a remote answer)
    assert env.git("ls-remote", "origin", "main").split()[0] == env.git("rev-parse", "HEAD")
