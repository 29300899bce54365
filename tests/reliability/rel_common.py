"""Shared plumbing of the reliability suite (issue 7): the tests in this folder and
``bench/reliability.py`` both run the scenarios defined in the ``rel_*`` modules.

A scenario is a plain function returning :class:`Check` results (no pytest fixtures), so the bench
can run it outside pytest. Every output a scenario sees (stdout, stderr, records, dotenv files,
git directories) is kept in :data:`EVIDENCE` for the secrets category to search.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
for _path in (REPO_ROOT, REPO_ROOT / "tests"):  # the bench imports us from outside pytest
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

ENTRY = str(Path(sys.executable).parent / "gitops-release")
GIT_CANARY = "glpat-RELCANARY-git-5d1e9a7c3b2f"
ARGO_CANARY = "eyJhbGciOiJIUzI1NiJ9.RELCANARY-argocd.4c8e0b6f2a91"

ROLLOUT = """\
# {name}: bumped by CI
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: {name}
spec:
  strategy:
    blueGreen: {{activeService: {name}, previewService: {name}-preview}}
  template:
    spec:
      containers:
        - name: {name}
          image: "registry.example.com:5000/team/{name}:v1"   # the tag CI bumps
          ports: [{{containerPort: 80}}]
"""
SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n"


@dataclass
class Check:
    """One scenario outcome: ``held`` when the tool ended in its named state; ``lost`` counts
    changes lost or half-written (always 0 when the tool holds)."""

    category: str
    name: str
    held: bool
    lost: int = 0
    detail: str = ""


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Evidence:
    """Everything a secret could leak into, labelled by the path that produced it."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    git_dirs: list[tuple[str, Path]] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    cmdline_leaks: list[str] = field(default_factory=list)
    cmdline_samples: int = 0

    def text(self, label: str, *texts: str) -> None:
        self.texts += [(label, t) for t in texts if t]

    def files(self, label: str, *paths: Path) -> None:
        for path in paths:
            if path.is_file():
                self.texts.append((label, path.read_bytes().decode("latin-1")))

    def git(self, label: str, path: Path) -> None:
        self.git_dirs.append((label, path))

    def secret(self, *values: str) -> None:
        self.secrets.update(v for v in values if v)


EVIDENCE = Evidence()
EVIDENCE.secret(GIT_CANARY, ARGO_CANARY)


@contextlib.contextmanager
def pinned_environment(home: Path | None = None) -> Iterator[Path]:
    """What tests/conftest.py's ``pinned_env`` does, for the bench outside pytest."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="rel-home-") as tmp:
        home = home or Path(tmp)
        for name in list(os.environ):
            if (
                name.startswith(("GITOPS_RELEASE_", "ARGOCD_", "ROLLOUTS_", "SANDBOX_", "CI_"))
                or name.startswith(("GITLAB_", "GIT_"))
                or name in ("CI", "NO_COLOR", "XDG_CONFIG_HOME")
                or name.lower().endswith("_proxy")
            ):
                del os.environ[name]
        os.environ.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_NAME="Test Author",
            GIT_AUTHOR_EMAIL="author@example.com",
            GIT_COMMITTER_NAME="Test Committer",
            GIT_COMMITTER_EMAIL="committer@example.com",
            GIT_TERMINAL_PROMPT="0",
            NO_PROXY="127.0.0.1,localhost",
        )
        (home / ".gitconfig").write_text(
            '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n'
        )
        try:
            yield home
        finally:
            os.environ.clear()
            os.environ.update(saved)


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    ).stdout.strip()


def git_env(token: str) -> dict[str, str]:
    from gitops_release.git import auth as gitauth

    return gitauth.git_environ(gitauth.Credentials("oauth2", token), base={})


def spawn(
    args: list[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[str]:
    """The installed entry point in a child process (its own session: we signal it alone)."""
    return subprocess.Popen(
        [ENTRY, *args],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], label: str, timeout: float = 120) -> Result:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    EVIDENCE.text(label, out, err)
    return Result(proc.returncode, out, err)


def run_proc(
    args: list[str], label: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Result:
    return finish(spawn(args, env, cwd), label)


@contextlib.contextmanager
def _environ(env: Mapping[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_main(
    args: list[str],
    label: str,
    env: Mapping[str, str | None] | None = None,
    cwd: Path | None = None,
    stdin: str = "",
) -> Result:
    """The CLI in this process (``gitops_release.cli.main``), output captured."""
    from gitops_release import output
    from gitops_release.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_cwd = Path.cwd()
    old_stdin = sys.stdin
    try:
        if cwd is not None:
            os.chdir(cwd)
        sys.stdin = io.StringIO(stdin)
        with _environ(env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    finally:
        sys.stdin = old_stdin
        os.chdir(old_cwd)
        output.forget_secrets()
    EVIDENCE.text(label, out.getvalue(), err.getvalue())
    return Result(code, out.getvalue(), err.getvalue())


def seed_repo(url: str, work: Path, apps: list[str], token: str) -> Path:
    """Push a GitOps repository with one Rollout + Service per app to ``url``."""
    git(work.parent, "init", "-q", "-b", "main", str(work))
    for app in apps:
        (work / "apps" / app).mkdir(parents=True)
        (work / "apps" / app / "rollout.yaml").write_text(ROLLOUT.format(name=app))
        (work / "apps" / app / "service.yaml").write_text(SERVICE.format(name=app))
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "seed")
    git(work, "push", "-q", url, "main", env=git_env(token))
    return work


def expected_rollout(app: str, tag: str) -> bytes:
    return ROLLOUT.format(name=app).replace(f"{app}:v1", f"{app}:{tag}").encode()


def remote_file(bare: Path, path: str, ref: str = "main") -> bytes:
    return subprocess.run(
        ["git", "show", f"{ref}:{path}"], cwd=bare, capture_output=True, check=True
    ).stdout


def refs(bare: Path) -> str:
    return git(bare, "for-each-ref", "--format=%(refname) %(objectname)")


def linear(bare: Path) -> bool:
    return git(bare, "rev-list", "--merges", "main") == ""


def one_error_line(err: str) -> bool:
    """Exactly one line names the problem: ours (``gitops-release: error:``) or click's
    (``Error: ...`` under its usage lines)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    ours = [ln for ln in lines if ln.startswith("gitops-release: error: ")]
    clicks = [ln for ln in lines if ln.lstrip("│ ").startswith("Error")]
    return len(ours) + len(clicks) == 1 and "Traceback" not in err
