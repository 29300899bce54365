"""``env status`` and ``env promote`` on the sandbox (issue 17): myapp-dev, myapp-staging and
myapp-prod, one directory each in the GitOps repository, one namespace each."""

from __future__ import annotations

import json
import shutil

import pytest

from gitops_release.sandbox.server import Sandbox
from tests.conftest import APP_YAML, AUTO, Env, make_env

ENVS = ("dev", "staging", "prod")
CONFIG = """\
[[environments]]
name = "dev"

[[environments]]
name = "staging"
soak = "{soak}"

[[environments]]
name = "prod"
"""


def _image(env: Env, name: str) -> str:
    env.git("pull", "-q", "origin", "main")
    text = (env.repo / name / "rollout.yaml").read_text()
    return next(line.split()[-1] for line in text.splitlines() if "image:" in line)


def _configure(env: Env, soak: str) -> None:
    (env.tmp / "work").mkdir(exist_ok=True)
    (env.tmp / "work" / "gitops-release.toml").write_text(CONFIG.format(soak=soak))
    env.monkeypatch.chdir(env.tmp / "work")


@pytest.fixture
def chain(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> Env:
    env = make_env(tmp_path, monkeypatch, capsys, sandbox)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sandbox.git_token)
    for name in ENVS:
        shutil.copytree(env.repo / "myapp", env.repo / f"myapp-{name}")
    shutil.rmtree(env.repo / "myapp")
    env.git("add", "-A")
    env.git("commit", "-qm", "myapp in dev, staging, prod")
    env.git("push", "-q", "origin", "main")
    for name in ENVS:
        manifest = (
            APP_YAML.format(repo=sandbox.repo_url("gitops"), policy=AUTO)
            .replace("name: myapp\n", f"name: myapp-{name}\n")
            .replace("path: myapp\n", f"path: myapp-{name}\n")
            .replace("namespace: default\n", f"namespace: {name}\n")
        )
        (tmp_path / f"app-{name}.yaml").write_text(manifest)
        env.ok("app", "create", "--file", str(tmp_path / f"app-{name}.yaml"))
    for name in ENVS:
        env.ok("wait", f"myapp-{name}", "--for", "released", "--timeout", "60s")
    _configure(env, "0s")
    return env


def _release(env: Env, app: str, tag: str) -> None:
    env.ok("deploy", tag, "--app", app, "--promote", "--timeout", "60s")


def test_matrix_shows_live_git_and_flags(chain: Env) -> None:
    env = chain
    _release(env, "myapp-staging", "v2")
    _release(env, "myapp-dev", "v3")
    out = env.ok("env", "status", "-o", "json")
    data = json.loads(out)
    assert data["environments"] == ["dev", "staging", "prod"]
    [row] = data["apps"]
    assert row["app"] == "myapp"
    cells = {c["env"]: c for c in row["environments"]}
    assert cells["dev"]["live"] == "ikubernetes/myapp:v3"
    assert cells["staging"]["live"] == cells["staging"]["git"] == "ikubernetes/myapp:v2"
    assert cells["prod"]["live"] == "ikubernetes/myapp:v1"
    assert cells["prod"]["application"] == "myapp-prod"
    assert cells["prod"]["sync"] == "Synced" and cells["prod"]["health"] == "Healthy"
    assert cells["prod"]["flags"] == ["behind"] and cells["staging"]["flags"] == ["behind"]
    assert cells["dev"]["flags"] == []
    text = env.ok("env", "status", "myapp")
    assert "myapp  prod     myapp-prod" in text and "behind" in text


def test_promote_staging_to_prod_with_trailer_then_rerun_is_a_noop(chain: Env) -> None:
    env = chain
    _release(env, "myapp-staging", "v2")
    staging_commit = json.loads(env.ok("env", "status", "-o", "json"))["apps"][0]["environments"][
        1
    ]["revision"]
    code, out, err = env.cli(
        "env", "promote", "myapp", "--from", "staging", "--to", "prod", "--dry-run", "-o", "json"
    )
    assert code == 0, err
    assert json.loads(out)["dry_run"] is True
    assert _image(env, "myapp-prod") == "ikubernetes/myapp:v1"  # the dry run wrote nothing

    code, out, err = env.cli(
        "env", "promote", "myapp", "--from", "staging", "--to", "prod", "--promote",
        "--timeout", "60s", "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["changed"] is True and data["outcome"] == "released"
    assert _image(env, "myapp-prod") == "ikubernetes/myapp:v2"
    message = env.git("log", "-1", "--format=%B")
    assert f"Promoted-From: staging@{staging_commit}" in message
    assert "Release-App: myapp-prod" in message

    code, out, err = env.cli("env", "promote", "myapp", "--from", "staging", "--to", "prod")
    assert code == 0, err
    assert "prod already runs what staging runs" in out
    code, out, _ = env.cli(
        "env", "promote", "myapp", "--from", "staging", "--to", "prod", "-o", "json"
    )
    assert code == 0 and json.loads(out)["changed"] is False


def test_soak_not_over_says_when(chain: Env) -> None:
    env = chain
    _configure(env, "720h")
    _release(env, "myapp-staging", "v2")
    code, _, err = env.cli("env", "promote", "myapp", "--from", "staging", "--to", "prod")
    assert code == 1
    assert "has not soaked 720h yet: it will have soaked at 20" in err
    assert _image(env, "myapp-prod") == "ikubernetes/myapp:v1"
    # --soak overrides the environment's
    code, _out, err = env.cli(
        "env", "promote", "myapp", "--from", "staging", "--to", "prod", "--soak", "0s",
        "--dry-run",
    )  # fmt: skip
    assert code == 0, err


def test_downgrade_refused_unless_allowed(chain: Env) -> None:
    env = chain
    _release(env, "myapp-prod", "v3")
    _release(env, "myapp-staging", "v2")
    code, _, err = env.cli("env", "promote", "myapp", "--from", "staging", "--to", "prod")
    assert code == 5 and "newer than staging's v2" in err and "--allow-downgrade" in err
    assert _image(env, "myapp-prod") == "ikubernetes/myapp:v3"
    code, _, err = env.cli(
        "env", "promote", "myapp", "--from", "staging", "--to", "prod", "--allow-downgrade",
        "--dry-run",
    )  # fmt: skip
    assert code == 0, err


def test_degraded_source_refused(chain: Env) -> None:
    env = chain
    env.sb.fail_image("ikubernetes/myapp:v2", "never-ready")
    code, _, _ = env.cli(
        "deploy", "v2", "--app", "myapp-staging", "--on-failure", "none", "--timeout", "20s"
    )
    assert code != 0
    code, _, err = env.cli("env", "promote", "myapp", "--from", "staging", "--to", "prod")
    assert code == 1 and "myapp in staging (myapp-staging) is not released" in err
    assert _image(env, "myapp-prod") == "ikubernetes/myapp:v1"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--from", "staging", "--to", "qa"], "--to 'qa' is not an environment"),
        (["--from", "uat", "--to", "prod"], "--from 'uat' is not an environment"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(chain: Env, args: list[str], words: str) -> None:
    env = chain
    before = env.git("ls-remote", "origin", "main")
    code, out, err = env.cli("env", "promote", "myapp", *args, "-o", "json")
    assert code == 2 and words in err
    assert json.loads(out)["exit_code"] == 2
    assert env.git("ls-remote", "origin", "main") == before


def test_app_missing_in_one_environment_exits_2(chain: Env) -> None:
    env = chain
    env.ok("app", "delete", "myapp-prod", "--yes")
    before = env.git("ls-remote", "origin", "main")
    code, _, err = env.cli("env", "promote", "myapp", "--from", "staging", "--to", "prod")
    assert code == 2 and "has no Application myapp-prod in environment prod" in err
    assert env.git("ls-remote", "origin", "main") == before
