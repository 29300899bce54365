"""End to end on the sandbox (real sockets, real git): the guide's sequence and the error paths."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitops_release.cli import main
from gitops_release.sandbox.server import Sandbox, SandboxConfig
from tests.conftest import SHARED

GUIDE = SHARED / "reference" / "blue-green-guide.md"


def guide_manifests() -> dict[str, str]:
    """rollout.yaml, service.yaml and ingress.yaml exactly as the guide writes them."""
    blocks = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
    return {"rollout.yaml": blocks[0], "service.yaml": blocks[1], "ingress.yaml": blocks[2]}


APP_YAML = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: myapp
  namespace: argocd
spec:
  project: default
  destination:
    namespace: default
    server: https://kubernetes.default.svc
  source:
    repoURL: {repo}
    path: myapp
    targetRevision: main
{policy}"""
AUTO = "  syncPolicy:\n    automated:\n      prune: false\n      selfHeal: false\n"


@dataclass
class Env:
    sb: Sandbox
    repo: Path
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args],
            cwd=self.repo,
            env={**__import__("os").environ, **self.sb.git_env()},
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    def bump(self, tag: str) -> str:
        path = self.repo / "myapp" / "rollout.yaml"
        text = re.sub(r"ikubernetes/myapp:v\d+", f"ikubernetes/myapp:{tag}", path.read_text())
        path.write_text(text)
        self.git("commit", "-qam", f"myapp {tag}")
        self.git("push", "-q", "origin", "main")
        return self.git("rev-parse", "HEAD")

    def cli(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(args))
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def ok(self, *args: str) -> str:
        code, out, err = self.cli(*args)
        assert code == 0, f"{args}: exit {code}\n{err}"
        return out

    def create_app(self, auto: bool = True) -> None:
        app_file = self.tmp / "myapp-app.yaml"
        app_file.write_text(
            APP_YAML.format(repo=self.sb.repo_url("gitops"), policy=AUTO if auto else "")
        )
        assert "application myapp created" in self.ok("app", "create", "--file", str(app_file))

    def host(self, host: str) -> str | int:
        req = urllib.request.Request(self.sb.ingress_url + "/", headers={"Host": host})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return str(resp.read().decode())
        except urllib.error.HTTPError as err:
            return err.code


def make_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sb: Sandbox
) -> Env:
    for key, value in sb.env().items():
        if key.startswith(("ARGOCD_", "ROLLOUTS_")):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("GITOPS_RELEASE_HTTP_RETRIES", "2")
    repo = tmp_path / "gitops"
    (repo / "myapp").mkdir(parents=True)
    for name, text in guide_manifests().items():
        (repo / "myapp" / name).write_text(text)
    env = Env(sb, repo, tmp_path, monkeypatch, capsys)
    env.git("init", "-q", "-b", "main")
    env.git("add", ".")
    env.git("commit", "-qm", "myapp v1")
    env.git("remote", "add", "origin", sb.repo_url("gitops"))
    env.git("push", "-q", "origin", "main")
    return env


@pytest.fixture
def env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
) -> Env:
    return make_env(tmp_path, monkeypatch, capsys, sandbox)


@pytest.fixture
def slow_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Env]:
    """Controller time at 1/10: the 30 s scale-down delay lasts 3 s, long enough to be seen."""
    sb = Sandbox(SandboxConfig(time_scale=0.1, state_dir=tmp_path / "sandbox-state")).start()
    try:
        yield make_env(tmp_path, monkeypatch, capsys, sb)
    finally:
        sb.stop()


def test_the_guides_sequence(slow_env: Env) -> None:
    e = slow_env
    e.create_app()
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    assert "Version: v1" in str(e.host("prod.myapp.com"))

    # bump v2 -> preview-ready returns once paused with v2 on the preview
    v2 = e.bump("v2")
    data = json.loads(
        e.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s", "-o", "json")
    )
    assert data["revision"] == v2 and data["images"] == ["ikubernetes/myapp:v2"]
    assert data["rollout"]["phase"] == "Paused" and data["rollout"]["message"] == "BlueGreenPause"
    status = e.ok("status", "myapp")
    assert "Status:          ॥ Paused\n" in status
    assert re.search(r"⧉ bluegreen-rollout-\w+ +ReplicaSet +✔ Healthy +\S+ +preview\n", status)
    assert re.search(
        r"⧉ bluegreen-rollout-\w+ +ReplicaSet +✔ Healthy +\S+ +stable,active\n", status
    )
    assert (
        "Images:          ikubernetes/myapp:v1 (stable, active)\n                 ikubernetes/myapp:v2 (preview)\n"
        in status
    )
    assert (
        "Prod URL:        http://prod.myapp.com\nPreview URL:     http://test.myapp.com\n" in status
    )
    assert "Version: v1" in str(e.host("prod.myapp.com"))
    assert "Version: v2" in str(e.host("test.myapp.com"))

    # promote --wait -> released; the old ReplicaSet counts its delay down, then scales down
    out = e.ok("promote", "myapp", "--wait", "--timeout", "60s")
    assert "promote done" in out and "released on ikubernetes/myapp:v2" in out
    status = e.ok("status", "myapp")
    assert re.search(
        r"⧉ bluegreen-rollout-\w+ +ReplicaSet +✔ Healthy +\S+ +delay:(\d+s|passed)\n", status
    ), status
    assert "Version: v2" in str(e.host("prod.myapp.com"))
    e.sb.advance(60)
    status = e.ok("status", "myapp")
    assert re.search(r"└──⧉ bluegreen-rollout-\w+ +ReplicaSet +• ScaledDown +\S+ *\n", status), (
        status
    )

    # bump v3, then abort: Degraded with the RolloutAborted message; prod keeps v2, test stops
    e.bump("v3")
    e.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    assert "Version: v3" in str(e.host("test.myapp.com"))
    out = e.ok("abort", "myapp")
    assert "abort done" in out
    status = e.ok("status", "myapp")
    assert (
        "Status:          ✖ Degraded\nMessage:         RolloutAborted: Rollout aborted update to revision 3\n"
        in status
    )
    assert "Version: v2" in str(e.host("prod.myapp.com"))
    e.sb.advance(60)
    status = e.ok("status", "myapp")
    assert re.search(r"ReplicaSet +• ScaledDown +\S+ +preview(,delay:\w+)?\n", status), status
    assert "Version: v3" not in str(e.host("test.myapp.com"))
    # waiting for released now fails fast with the server's message (exit 1)
    code, _, err = e.cli("wait", "myapp", "--for", "released", "--timeout", "30s")
    assert code == 1 and "RolloutAborted: Rollout aborted update to revision 3" in err


def test_status_json_and_ages_on_the_servers_clock(slow_env: Env) -> None:
    e = slow_env
    e.create_app()
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    status = e.ok("status", "myapp")
    assert "<invalid>" not in status
    data = json.loads(e.ok("status", "myapp", "-o", "json"))
    assert data["rollout"]["images"] == ["ikubernetes/myapp:v1 (stable, active)"]
    assert data["rollout"]["replica_sets"][0]["stable"] is True
    assert data["prod_url"] == "http://prod.myapp.com"
