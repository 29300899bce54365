"""``env promote`` pins the promoted image to its digest (issue 17): against the sandbox (Argo CD)
and the real registry, prod is written ``tag@sha256:...`` with the registry's digest of what
staging runs, recorded in ``Release-Digest``; ``--verify-image off`` asks no registry."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from gitops_release.sandbox.server import Sandbox
from tests.conftest import APP_YAML, AUTO, Env, make_env

if TYPE_CHECKING:
    from tests.registry.conftest import Registry

CONFIG = '[[environments]]\nname = "staging"\n\n[[environments]]\nname = "prod"\n'


def _image(env: Env, name: str) -> str:
    env.git("pull", "-q", "origin", "main")
    text = (env.repo / name / "rollout.yaml").read_text()
    return next(line.split()[-1] for line in text.splitlines() if "image:" in line)


@pytest.fixture
def chain(
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
    registry: Registry,
) -> Env:
    """myapp-staging and myapp-prod on images of the test registry; staging released on v2."""
    monkeypatch.setenv("GITOPS_RELEASE_VERIFY_IMAGE", "on")  # the users' default
    for tag in ("v1", "v2"):
        registry.push("team/myapp", tag, seed=tag)
    env = make_env(tmp_path, monkeypatch, capsys, sandbox)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sandbox.git_token)
    rollout = env.repo / "myapp" / "rollout.yaml"
    rollout.write_text(
        rollout.read_text().replace("ikubernetes/myapp:v1", f"{registry.host}/team/myapp:v1")
    )
    for name in ("staging", "prod"):
        shutil.copytree(env.repo / "myapp", env.repo / f"myapp-{name}")
    shutil.rmtree(env.repo / "myapp")
    env.git("add", "-A")
    env.git("commit", "-qm", "myapp in staging and prod, from the registry")
    env.git("push", "-q", "origin", "main")
    for name in ("staging", "prod"):
        manifest = (
            APP_YAML.format(repo=sandbox.repo_url("gitops"), policy=AUTO)
            .replace("name: myapp\n", f"name: myapp-{name}\n")
            .replace("path: myapp\n", f"path: myapp-{name}\n")
            .replace("namespace: default\n", f"namespace: {name}\n")
        )
        (tmp_path / f"app-{name}.yaml").write_text(manifest)
        env.ok("app", "create", "--file", str(tmp_path / f"app-{name}.yaml"))
    for name in ("staging", "prod"):
        env.ok("wait", f"myapp-{name}", "--for", "released", "--timeout", "60s")
    env.ok("deploy", "v2", "--app", "myapp-staging", "--promote", "--timeout", "60s")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "gitops-release.toml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path / "work")
    return env


def test_promotion_pins_the_registrys_digest_and_records_it(chain: Env, registry: Registry) -> None:
    env = chain
    digest = registry.push("team/myapp", "v2", seed="v2")  # the same content: the same digest
    code, _, err = env.cli(
        "env", "promote", "myapp", "--from", "staging", "--to", "prod", "--promote",
        "--timeout", "60s",
    )  # fmt: skip
    assert code == 0, err
    assert _image(env, "myapp-prod") == f"{registry.host}/team/myapp:v2@{digest}"
    assert _image(env, "myapp-staging") == f"{registry.host}/team/myapp:v2"
    message = env.git("log", "-1", "--format=%B")
    assert f"Release-Digest: {digest}" in message
    assert "Promoted-From: staging@" in message
    # prod runs staging's tag, pinned: a re-run has nothing to write
    code, out, err = env.cli("env", "promote", "myapp", "--from", "staging", "--to", "prod")
    assert code == 0, err
    assert "prod already runs what staging runs" in out


def test_verify_image_off_promotes_the_tag_as_staging_runs_it(
    chain: Env, registry: Registry
) -> None:
    env = chain
    code, _, err = env.cli(
        "env", "promote", "myapp", "--from", "staging", "--to", "prod", "--promote",
        "--timeout", "60s", "--verify-image", "off",
    )  # fmt: skip
    assert code == 0, err
    assert _image(env, "myapp-prod") == f"{registry.host}/team/myapp:v2"
    assert "Release-Digest" not in env.git("log", "-1", "--format=%B")
