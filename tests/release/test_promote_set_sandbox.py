"""``env promote api worker --from staging --to prod`` on the sandbox (issue 17): several apps
promoted as ONE release set (one commit, a Promoted-From trailer per app); and env promote's
--record, --dotenv and --merge-request, for one app and for a set."""

from __future__ import annotations

import json
import shutil

import pytest

from gitops_release.record import read_dotenv
from gitops_release.sandbox.server import Sandbox
from tests.conftest import APP_YAML, AUTO, Env, make_env

APPS = ("api", "worker")
ENVS = ("staging", "prod")
CONFIG = '[[environments]]\nname = "staging"\n\n[[environments]]\nname = "prod"\n'


def _image(env: Env, name: str) -> str:
    env.git("pull", "-q", "origin", "main")
    text = (env.repo / name / "rollout.yaml").read_text()
    return next(line.split()[-1] for line in text.splitlines() if "image:" in line)


@pytest.fixture
def two(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> Env:
    """api and worker, each in staging and prod (api-staging, ..., one namespace each); staging
    released on v2, prod on v1."""
    env = make_env(tmp_path, monkeypatch, capsys, sandbox)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sandbox.git_token)
    names = [f"{app}-{e}" for app in APPS for e in ENVS]
    for name in names:
        shutil.copytree(env.repo / "myapp", env.repo / name)
    shutil.rmtree(env.repo / "myapp")
    env.git("add", "-A")
    env.git("commit", "-qm", "api and worker in staging and prod")
    env.git("push", "-q", "origin", "main")
    for name in names:
        manifest = (
            APP_YAML.format(repo=sandbox.repo_url("gitops"), policy=AUTO)
            .replace("name: myapp\n", f"name: {name}\n")
            .replace("path: myapp\n", f"path: {name}\n")
            .replace("namespace: default\n", f"namespace: {name}\n")
        )
        (tmp_path / f"app-{name}.yaml").write_text(manifest)
        env.ok("app", "create", "--file", str(tmp_path / f"app-{name}.yaml"))
    for name in names:
        env.ok("wait", name, "--for", "released", "--timeout", "60s")
    for app in APPS:
        env.ok("deploy", "v2", "--app", f"{app}-staging", "--promote", "--timeout", "60s")
    env.git("pull", "-q", "origin", "main")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "gitops-release.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path / "work")
    return env


def test_two_apps_are_promoted_in_one_commit_with_a_trailer_each(two: Env) -> None:
    env = two
    before = env.git("rev-parse", "HEAD")
    record, dotenv = env.tmp / "promote.json", env.tmp / "promote.env"
    code, out, err = env.cli(
        "env", "promote", "api", "worker", "--from", "staging", "--to", "prod", "--promote",
        "--timeout", "60s", "--record", str(record), "--dotenv", str(dotenv), "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["changed"] is True and data["outcome"] == "released"
    assert [a["outcome"] for a in data["apps"]] == ["released", "released"]
    env.git("pull", "-q", "origin", "main")
    assert env.git("rev-list", "--count", f"{before}..HEAD") == "1"
    message = env.git("log", "-1", "--format=%B")
    assert "Release-Set: api-prod, worker-prod" in message
    staging = {a["app"]: a["source_commit"] for a in data["apps"]}
    assert message.count("Promoted-From: staging@") == 2
    assert f"Promoted-From: staging@{staging['api']}" in message
    assert _image(env, "api-prod") == _image(env, "worker-prod") == "ikubernetes/myapp:v2"
    saved = json.loads(record.read_text())
    assert saved["kind"] == "deploy" and saved["outcome"] == "released"
    assert {a["app"]: a["outcome"] for a in saved["apps"]} == {
        "api-prod": "released",
        "worker-prod": "released",
    }
    values = read_dotenv(dotenv.read_text())
    assert values["RELEASE_COMMIT"] == env.git("rev-parse", "HEAD")
    assert values["API_PROD_NEW_TAG"] == "v2" and values["WORKER_PROD_PREVIOUS_TAG"] == "v1"
    # again: prod runs what staging runs, nothing to write
    code, out, err = env.cli("env", "promote", "api", "worker", "--from", "staging", "--to", "prod")
    assert code == 0, err
    assert out.count("already runs what staging runs") == 2


def test_one_app_not_soaked_refuses_the_whole_set(two: Env) -> None:
    env = two
    before = env.git("ls-remote", "origin", "main")
    code, _, err = env.cli(
        "env", "promote", "api", "worker", "--from", "staging", "--to", "prod", "--soak", "1h"
    )
    assert code == 1, err
    assert "has not soaked 1h yet" in err
    assert env.git("ls-remote", "origin", "main") == before


def test_a_set_promotion_as_a_merge_request_leaves_main_alone(two: Env) -> None:
    env = two
    before = env.git("ls-remote", "origin", "main")
    code, out, err = env.cli(
        "env", "promote", "api", "worker", "--from", "staging", "--to", "prod",
        "--merge-request", "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["outcome"] == "merge-request"
    branch = data["deploy"]["merge_request_branch"]
    assert branch.startswith("gitops-release/set-2-apps-")
    assert env.git("ls-remote", "origin", "main") == before
    env.git("fetch", "-q", "origin", branch)
    changed = env.git("show", "--name-only", "--format=", "FETCH_HEAD").splitlines()
    assert sorted(changed) == ["api-prod/rollout.yaml", "worker-prod/rollout.yaml"]


def test_one_app_promotion_writes_its_record_and_dotenv(two: Env) -> None:
    env = two
    record, dotenv = env.tmp / "one.json", env.tmp / "one.env"
    code, _, err = env.cli(
        "env", "promote", "api", "--from", "staging", "--to", "prod", "--promote",
        "--timeout", "60s", "--record", str(record), "--dotenv", str(dotenv),
    )  # fmt: skip
    assert code == 0, err
    saved = json.loads(record.read_text())
    assert saved["outcome"] == "released" and saved["app"] == "api-prod"
    values = read_dotenv(dotenv.read_text())
    assert values["NEW_TAG"] == "v2" and values["PREVIOUS_TAG"] == "v1"
    assert values["RELEASE_COMMIT"] == env.git("ls-remote", "origin", "main").split()[0]


def test_one_app_promotion_as_a_merge_request(two: Env) -> None:
    env = two
    before = env.git("ls-remote", "origin", "main")
    code, out, err = env.cli(
        "env", "promote", "worker", "--from", "staging", "--to", "prod", "--merge-request",
        "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["outcome"] == "merge-request"
    assert env.git("ls-remote", "origin", "main") == before
    assert _image(env, "worker-prod") == "ikubernetes/myapp:v1"
