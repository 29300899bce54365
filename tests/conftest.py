"""Shared fixtures: a pinned environment and real git repositories with bare remotes."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _checkout_state() -> set[str] | None:
    """``git status`` of this checkout (None outside a git checkout)."""
    done = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    return set(done.stdout.splitlines()) if done.returncode == 0 else None


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_CHECKOUT] = _checkout_state()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test writes in its tmp_path, never in this checkout (a user's clone, a CI job's): a
    file that appeared or changed here during the run fails the session, named."""
    before = session.config.stash.get(_CHECKOUT, None)
    after = _checkout_state()
    if before is None or after is None or not after - before:
        return
    changed = "\n  ".join(sorted(after - before))
    print(f"\nthe tests wrote into the checkout {REPO_ROOT}:\n  {changed}", flush=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


_CHECKOUT = pytest.StashKey[set[str] | None]()


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
    # The sandbox serves no registry: images like ikubernetes/myapp:v2 are not checked unless a
    # test asks (tests/registry/ set it on; the users' default is on).
    monkeypatch.setenv("GITOPS_RELEASE_VERIFY_IMAGE", "off")
    (home / ".gitconfig").write_text(
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n'
    )
    output.forget_secrets()
    yield
    output.forget_secrets()


# The web app the bump-image tests edit (a Rollout whose image line carries a comment).
ROLLOUT = """\
# the web app
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: {name}
spec:
  template:
    spec:
      containers:
        - name: {name}
          image: "registry.example.com:5000/team/{name}:v1"   # bumped by CI
          ports: [{{containerPort: 80}}]
"""
SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"


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


from gitops_release.cli import main  # noqa: E402
from gitops_release.sandbox.prometheus import INSTALL_HINT, Prometheus, find_binary  # noqa: E402
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
      "pull-error" | "http-500", rate=0.2)``, ``fail_image(image, "slow", seconds=30)``, ``clear_image()``, ``inject("http-error", status=503, count=3,
      path="/api/v1/applications")``, ``inject("latency", seconds=0.2, count=5, path="/api/")``,
      ``inject("drop-stream", count=1, after=1)``, ``hold_operation(app, seconds)``,
      ``fail_syncs(app, count=1, message="...")``, ``reset(everything=False)``; ``requests`` lists
      every API request answered as (verb, route template); the same over HTTP at ``/sandbox/api/v1`` (see
      ``gitops_release/sandbox/control.py``); ``/sandbox/api/v1/metrics`` is the pods' ``/metrics``
      (the ``prometheus`` fixture scrapes it).
    """
    sb = Sandbox(SandboxConfig(time_scale=0.01, state_dir=tmp_path / "sandbox-state"))
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()


# --- a real Prometheus scraping the sandbox's pods --------------------------------------------

# Read at import: the autouse pinned_env removes CI before any fixture runs.
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def prometheus_for(tmp_path: Path) -> Iterator[Callable[[Sandbox], Prometheus]]:
    """Start a real Prometheus (Debian's ``/usr/bin/prometheus``) scraping a sandbox's pod
    metrics every second, on a free 127.0.0.1 port with its TSDB in tmp; each one started is
    stopped by its pid after the test, pass or fail. Without the binary: skip on a laptop,
    fail under CI (``.ci/run`` installs it)."""
    started: list[Prometheus] = []

    def start(sb: Sandbox) -> Prometheus:
        binary = find_binary()
        if binary is None:
            reason = f"prometheus not found ({INSTALL_HINT})"
            if IN_CI:
                pytest.fail(f"{reason} (CI is set: tests that need it must run)", pytrace=False)
            pytest.skip(reason)
        prom = Prometheus(
            sb.argocd_url.removeprefix("http://"),
            binary=binary,
            workdir=tmp_path / f"prometheus-{len(started)}",
        )
        started.append(prom)
        return prom.start()

    try:
        yield start
    finally:
        for prom in started:
            prom.stop()


@pytest.fixture
def prometheus(sandbox: Sandbox, prometheus_for: Callable[[Sandbox], Prometheus]) -> Prometheus:
    """A real Prometheus scraping the ``sandbox`` fixture's pods (``.url`` is its address)."""
    return prometheus_for(sandbox)


# --- the guide's app on the sandbox: what the end-to-end tests start from -----------------------

GUIDE = DATA / "guide"


def guide_manifests() -> dict[str, str]:
    """rollout.yaml, service.yaml and ingress.yaml exactly as the guide writes them."""
    return {
        name: (GUIDE / name).read_text(encoding="utf-8")
        for name in ("rollout.yaml", "service.yaml", "ingress.yaml")
    }


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
        """Change the image like ``bump-image`` does, with its commit trailers."""
        path = self.repo / "myapp" / "rollout.yaml"
        previous = re.search(r"ikubernetes/myapp:v\d+", path.read_text())
        text = re.sub(r"ikubernetes/myapp:v\d+", f"ikubernetes/myapp:{tag}", path.read_text())
        path.write_text(text)
        message = (
            f"release(myapp): ikubernetes/myapp -> {tag}\n\nRelease-App: myapp\n"
            f"Release-Image: ikubernetes/myapp:{tag}\nRelease-Previous: {previous and previous[0]}\n"
        )
        self.git("commit", "-qam", message)
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


class Traffic:
    """Users on both hosts, a request every ~20 ms each, until stopped; remembers every answer
    prod gave (``Version: v2``, ``500``, ...)."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.prod_answers: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _get(self, host: str) -> str:
        req = urllib.request.Request(self.sb.ingress_url + "/", headers={"Host": host})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                body = str(resp.read().decode())
        except urllib.error.HTTPError as err:
            return str(err.code)
        except OSError:
            return "unreachable"
        found = re.search(r"Version: (v\d+)", body)
        return f"Version: {found[1]}" if found else body

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.prod_answers.add(self._get("prod.myapp.com"))
            self._get("test.myapp.com")

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


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
    """The guide's app in a GitOps checkout pushed to the sandbox's git server; ARGOCD_* set,
    no git token (so a push needs ``git_env``)."""
    return make_env(tmp_path, monkeypatch, capsys, sandbox)


@pytest.fixture
def git_env(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:
    """``env`` with GITOPS_RELEASE_GIT_TOKEN set: the tool can push to the sandbox's git server."""
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", env.sb.git_token)
    return env


@pytest.fixture
def live_env(git_env: Env) -> Env:
    """``git_env`` with the Argo CD Application created and v1 released."""
    git_env.create_app()
    git_env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    return git_env


def remote_image(e: Env) -> str:
    """The image the remote's tip asks for (after pulling it into the checkout)."""
    e.git("pull", "-q", "origin", "main")
    text = (e.repo / "myapp" / "rollout.yaml").read_text()
    return next(line.split()[-1] for line in text.splitlines() if "image:" in line)


def every_option() -> set[str]:
    """Every option name (``--timeout``, ``-o``) some command of the CLI takes, groups included."""
    import typer

    from gitops_release.cli import app, load_commands

    load_commands()
    found: set[str] = set()

    def walk(command: Any) -> None:
        for param in getattr(command, "params", ()):
            found.update(param.opts + param.secondary_opts)
        for sub in (getattr(command, "commands", None) or {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    return found
