"""Shared fixtures: a pinned environment and real git repositories with bare remotes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitops_release import output

REPO_ROOT = Path(__file__).resolve().parent.parent
# Test data (specs, corpus, payloads, the guide's excerpts) lives in the repository, with its
# licences and sources (tests/data/SOURCES.md): a fresh clone runs its tests with nothing beside it.
DATA = REPO_ROOT / "tests" / "data"

_DROP_PREFIXES = ("GITOPS_RELEASE_", "ARGOCD_", "ROLLOUTS_", "SANDBOX_", "CI_", "GITLAB_", "GIT_")
_DROP = {
    "CI",
    "NO_COLOR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "XDG_CONFIG_HOME",
}


@pytest.fixture(autouse=True)
def pinned_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The same environment on a developer machine and in CI: HOME in tmp, fixed git identity,
    no CI variables, no tokens, no proxies to 127.0.0.1."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name in _DROP or name.startswith(_DROP_PREFIXES) or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    (home / ".gitconfig").write_text(
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n'
    )
    output.forget_secrets()
    yield
    output.forget_secrets()


def git(cwd: Path, *args: str) -> str:
    """Run real git in ``cwd`` and return its stdout (raises on failure)."""
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class GitRemote:
    bare: Path
    checkout: Path

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def clone(self, dest: Path) -> Path:
        subprocess.run(["git", "clone", "-q", str(self.bare), str(dest)], check=True)
        return dest


@pytest.fixture
def git_remote(tmp_path: Path) -> GitRemote:
    """A bare remote on ``main`` with one initial commit, and a checkout tracking it."""
    bare = tmp_path / "remote.git"
    checkout = tmp_path / "gitops"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    subprocess.run(
        ["git", "clone", "-q", str(bare), str(checkout)], check=True, capture_output=True
    )
    (checkout / "README.md").write_text("# gitops\n")
    git(checkout, "add", "README.md")
    git(checkout, "commit", "-q", "-m", "initial")
    git(checkout, "push", "-q", "origin", "main")
    return GitRemote(bare=bare, checkout=checkout)


from gitops_release.sandbox.server import Sandbox, SandboxConfig  # noqa: E402


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A running sandbox (Argo CD + Rollouts dashboard + ingress + git) on free 127.0.0.1 ports,
    in threads of this process, with time scale 0.01 (30 s of controller time = 0.3 s); stopped
    and its state dir removed after the test. Returns a ``gitops_release.sandbox.server.Sandbox``:

    - ``argocd_url`` (= ``ARGOCD_SERVER``, ``http://127.0.0.1:PORT``), ``token`` (an admin bearer
      token), ``admin_password`` (``POST /api/v1/session`` with user ``admin``);
    - ``rollouts_url`` (dashboard root; API under ``/rollouts/api/v1``), ``ingress_url`` (send a
      ``Host: prod.myapp.com`` header), ``git_url`` (``.../git``), ``git_token``,
      ``repo_url(name)`` and ``git_env()`` (env vars that let plain ``git push`` authenticate);
    - ``env()``: the same variables ``sandbox up`` prints (ARGOCD_SERVER, ARGOCD_AUTH_TOKEN, ...);
    - control: ``advance(seconds)`` (controller time), ``fail_image(image, "never-ready" |
      "pull-error" | "http-500")``, ``clear_image()``, ``inject("http-error", status=503, count=3,
      path="/api/v1/applications")``, ``inject("latency", seconds=0.2, count=5, path="/api/")``,
      ``inject("drop-stream", count=1, after=1)``, ``hold_operation(app, seconds)``,
      ``fail_syncs(app, count=1, message="...")``, ``reset(everything=False)``; ``requests`` lists
      every API request answered as (verb, route template); the same over HTTP at ``/sandbox/api/v1`` (see
      ``gitops_release/sandbox/control.py``).
    """
    sb = Sandbox(SandboxConfig(time_scale=0.01, state_dir=tmp_path / "sandbox-state"))
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()
