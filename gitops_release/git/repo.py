"""Git: the only importer of GitPython.

A :class:`Workspace` is either the user's own checkout (checked: clean, on a branch, not ahead of
its remote) or a temporary partial + sparse + shallow clone of a URL that is removed afterwards.

Credentials (``GITOPS_RELEASE_GIT_TOKEN``, ``GITOPS_RELEASE_GIT_USER``, or a ``user:token@`` part
of a URL) reach git only through the child's environment: ``GIT_CONFIG_COUNT`` +
``http.extraHeader: Authorization: Basic ...``. They never go into a URL, argv, ``.git/config``,
the reflog, a log line or an exception; every git message we show passes :func:`output.redact`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import git

from gitops_release.config import Settings
from gitops_release.errors import AppPathMissing, ReleaseError, RemoteError, UsageError
from gitops_release.git.auth import (
    Credentials,
    credentials_from,
    git_environ,
    split_url_credentials,
    strip_credentials,
)
from gitops_release.output import redact

# Phrases in git's stderr that mean "the remote could not be reached or refused us" (exit 4).
_REMOTE_TROUBLE = (
    "could not read from remote repository",
    "unable to access",
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "repository not found",
    "does not appear to be a git repository",
    "not found",
    "connection refused",
    "could not resolve host",
    "ssl certificate problem",
    "permission denied",
    "the requested url returned error",
    "couldn't connect to server",
    "failed to connect",
)


def _stderr_of(err: git.GitCommandError) -> str:
    text = err.stderr if isinstance(err.stderr, str) else str(err.stderr or "")
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    lines = [ln.removeprefix("stderr: ").strip("'").strip() for ln in lines]
    return redact("; ".join(ln for ln in lines if ln))


def _is_remote_trouble(stderr: str) -> bool:
    low = stderr.lower()
    return any(phrase in low for phrase in _REMOTE_TROUBLE)


class Git:
    """A git runner bound to one directory and one extra environment."""

    def __init__(self, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.cwd = Path(cwd)
        self.env = dict(env or {})
        self._git = git.Git(str(self.cwd))
        self._git.update_environment(**self.env)

    def __call__(self, *args: str, what: str | None = None, remote: bool = False) -> str:
        """Run ``git ARGS`` and return stdout; failures become ReleaseError with redacted stderr."""
        try:
            out = self._git.execute(["git", *args], strip_newline_in_stdout=True)
        except git.GitCommandError as err:
            stderr = _stderr_of(err)
            label = what or f"git {args[0]}"
            if remote or _is_remote_trouble(stderr):
                raise RemoteError(
                    f"{label} failed: {stderr}",
                    hint="check the repository URL, network and GITOPS_RELEASE_GIT_TOKEN",
                ) from None
            raise ReleaseError(f"{label} failed: {stderr}") from None
        return str(out)

    def status(self, *args: str) -> tuple[int, str, str]:
        """Run ``git ARGS`` without raising: (exit status, stdout, stderr) with stderr redacted."""
        status, out, err = self._git.execute(
            ["git", *args], with_extended_output=True, with_exceptions=False
        )
        return int(status), str(out), redact(str(err))


# --- small functions other commands use (scaffold --commit --push) ------------------------------


def _repo_git(repo_dir: Path, settings: Settings | None = None) -> Git:
    return Git(Path(repo_dir), git_environ(credentials_from(settings)))


def toplevel(repo_dir: Path) -> Path | None:
    """The top of the work tree containing ``repo_dir``, or None when it is not in a git repo."""
    status, out, _ = Git(Path(repo_dir)).status("rev-parse", "--show-toplevel")
    return Path(out.strip()) if status == 0 and out.strip() else None


def origin_url(repo_dir: Path) -> str | None:
    """The ``origin`` remote's URL with any credentials removed, or None when there is none."""
    status, out, _ = Git(Path(repo_dir)).status("config", "--get", "remote.origin.url")
    return strip_credentials(out.strip()) if status == 0 and out.strip() else None


def current_branch(repo_dir: Path) -> str | None:
    """The checked-out branch name, or None on a detached HEAD (or outside a repository)."""
    status, out, _ = Git(Path(repo_dir)).status("symbolic-ref", "--quiet", "--short", "HEAD")
    return out.strip() if status == 0 and out.strip() else None


def commit_paths(repo_dir: Path, paths: Sequence[Path | str], message: str) -> str:
    """Stage and commit exactly ``paths`` (new files included); returns the commit sha."""
    run = Git(Path(repo_dir), author_environ(Path(repo_dir)))
    names = [str(p) for p in paths]
    if not names:
        raise UsageError("nothing to commit: no paths given")
    run("add", "--", *names, what="git add")
    run("commit", "--quiet", "-m", message, "--", *names, what="git commit")
    return run("rev-parse", "HEAD")


def author_environ(repo_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A fallback identity for CI runners that have none (GitLab's user variables when set)."""
    env = os.environ if environ is None else environ
    if env.get("GIT_AUTHOR_EMAIL") and env.get("GIT_COMMITTER_EMAIL"):
        return {}
    status, out, _ = Git(repo_dir).status("config", "user.email")
    if status == 0 and out.strip():
        return {}
    name = env.get("GITLAB_USER_NAME") or "gitops-release"
    email = env.get("GITLAB_USER_EMAIL") or "gitops-release@noreply.invalid"
    return {
        "GIT_AUTHOR_NAME": env.get("GIT_AUTHOR_NAME") or name,
        "GIT_AUTHOR_EMAIL": env.get("GIT_AUTHOR_EMAIL") or email,
        "GIT_COMMITTER_NAME": env.get("GIT_COMMITTER_NAME") or name,
        "GIT_COMMITTER_EMAIL": env.get("GIT_COMMITTER_EMAIL") or email,
    }


# --- workspaces --------------------------------------------------------------------------------


@dataclass
class Workspace:
    """Where the edit happens: a checkout, its branch and the remote to land on."""

    root: Path
    branch: str
    remote: str
    display_url: str
    run: Git
    temporary: bool = False
    base: str = ""
    """The commit the edit is made on (the remote tip after the last fetch)."""

    @property
    def remote_ref(self) -> str:
        return f"refs/remotes/{self.remote}/{self.branch}"

    def head(self) -> str:
        return self.run("rev-parse", "HEAD")

    def include(self, directories: list[str]) -> None:
        """Check out ``directories`` too in a sparse temporary clone (a chart's values files
        may live beside it, e.g. ``envs/prod``); a full checkout has them already."""
        if not (self.temporary and directories):
            return
        config = self.root / ".git" / "config.worktree"  # where `clone --sparse` records it
        sparse = config.read_text(errors="replace") if config.is_file() else ""
        if "sparsecheckout = true" in sparse.lower():  # a clone of the root is not sparse
            self.run("sparse-checkout", "add", "--", *directories, what="widen the sparse clone")

    def fetch(self) -> str:
        """Fetch the branch; returns the remote tip."""
        self.run(
            "fetch",
            "--quiet",
            "--no-tags",
            self.remote,
            f"+refs/heads/{self.branch}:{self.remote_ref}",
            what=f"fetch {self.branch} from {self.display_url}",
            remote=True,
        )
        return self.run("rev-parse", self.remote_ref)

    def reset_hard(self, commit: str) -> None:
        self.run("reset", "--quiet", "--hard", commit)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return is_ancestor(self.run, ancestor, descendant)

    def commit(self, paths: Sequence[str], message: str) -> str:
        """Commit exactly ``paths`` (relative to the root); returns the new sha."""
        # The index matched HEAD when we started (a dirty tree is refused), so staging our
        # paths and committing the index commits exactly them; `commit -- PATHS` would build a
        # second, temporary index, several times slower on a big repository.
        self.run("add", "--", *paths, what="git add")
        self.run("commit", "--quiet", "--no-verify", "-m", message)
        return self.head()


def _open_local(
    path: Path,
    *,
    branch: str | None,
    credentials: Credentials | None,
    allow_unpushed: bool,
    fetch: bool = True,
) -> Workspace:
    top = toplevel(path)
    if top is None:
        raise UsageError(
            f"{path}: not inside a git checkout",
            hint="run from the GitOps repository checkout, or pass --repo URL",
        )
    env = git_environ(credentials)
    env.update(author_environ(top))
    run = Git(top, env)
    current = current_branch(top)
    if current is None:
        raise UsageError(
            f"{top}: detached HEAD", hint="check out the branch to release on (git switch main)"
        )
    dirty = run("status", "--porcelain", "--untracked-files=no").splitlines()
    if dirty:
        files = ", ".join(line[3:] for line in dirty[:10]) + (" ..." if len(dirty) > 10 else "")
        raise UsageError(
            f"{top}: uncommitted changes in {files}",
            hint="commit or stash them first; bump-image commits only its own edit",
        )
    fmt = "%(upstream:remotename)%00%(upstream:remoteref)"
    upstream = run("for-each-ref", f"--format={fmt}", f"refs/heads/{current}").split("\0")
    remote = upstream[0] or "origin"
    remote_branch = (upstream[1] if len(upstream) > 1 else "").removeprefix("refs/heads/")
    remote_branch = remote_branch or current
    if branch and branch not in (current, remote_branch):
        raise UsageError(
            f"{top}: checked out on {current!r}, but --branch says {branch!r}",
            hint=f"git switch {branch}, or drop --branch",
        )
    status, url, _ = run.status("remote", "get-url", remote)
    if status != 0:
        if allow_unpushed:
            return Workspace(top, current, remote, str(top), run, base=run("rev-parse", "HEAD"))
        raise UsageError(
            f"{top}: branch {current!r} has no remote to push to",
            hint="git remote add origin URL, or use --no-push",
        )
    ws = Workspace(top, remote_branch, remote, strip_credentials(url.strip()), run)
    if not fetch:
        ws.base = ws.head()
        return ws
    tip = ws.fetch()
    head = ws.head()
    if head != tip:
        if ws.is_ancestor(head, tip):
            run("merge", "--quiet", "--ff-only", tip, what=f"fast-forward {current}")
        elif not allow_unpushed:
            ahead = run("log", "--format=%h %s", f"{tip}..{head}").splitlines()
            state = "ahead of" if ws.is_ancestor(tip, head) else "diverged from"
            listed = "; ".join(ahead[:5]) + (" ..." if len(ahead) > 5 else "")
            raise UsageError(
                f"{top}: {current} is {state} {remote}/{remote_branch} with unpushed commit(s): {listed}",
                hint="push or drop them first, or use --no-push to commit locally only",
            )
    ws.base = ws.head()
    return ws


def _cone_patterns(*directories: str) -> str | None:
    """The ``info/sparse-checkout`` content ``git sparse-checkout set --cone DIR...`` would write
    (documented in git-sparse-checkout(1), "Internals - cone mode"); None for names that need
    escaping, which we leave to git itself."""
    if not directories or any(not d or any(c in d for c in "*?[]\\!# \t\n") for d in directories):
        return None
    ordered = sorted(set(directories))
    recursive = [
        d for d in ordered if not any(d.startswith(other + "/") for other in ordered if other != d)
    ]
    parents = sorted(
        {"/".join(d.split("/")[:i]) for d in recursive for i in range(1, len(d.split("/")))}
    )
    lines = ["/*", "!/*/"]
    for prefix in parents:
        lines += [f"/{prefix}/", f"!/{prefix}/*/"]
    lines += [f"/{d}/" for d in recursive]
    return "\n".join(lines) + "\n"


def _clone(
    url: str,
    *,
    branch: str | None,
    sparse_path: str,
    credentials: Credentials | None,
    parent: Path,
    also: Sequence[str] = (),
) -> Workspace:
    """Partial (no blobs), shallow (depth 1), single-branch, no tags, sparse (the app only).

    Every process counts here (``bench/bump_monorepo.py``): the branch is read from HEAD, the
    cone is written directly, and one checkout fetches the app's blobs in one round trip (those
    of the ``also`` apps too, directories or files: a release set's others, ``bench/bump_set.py``).
    """
    display = strip_credentials(url)
    dest = parent / "repo"
    env = git_environ(credentials)
    run = Git(parent, env)
    args = ["clone", "--quiet", "--filter=blob:none", "--no-tags", "--single-branch"]
    # A sparse index holds one entry per directory outside the cone instead of one per file:
    # on a 20,000-file monorepo it makes checkout and commit 3-5x faster.
    args += ["--no-checkout", "--sparse", "--depth=1", "--config", "index.sparse=true"]
    args.append("--template=")  # no sample hooks to write now and delete afterwards
    if branch:
        args += ["--branch", branch]
    run(*args, "--", url, str(dest), what=f"clone {display}", remote=True)
    run = Git(dest, {**env, **author_environ(dest)})
    head = (dest / ".git" / "HEAD").read_text().strip()
    head_branch = branch or head.removeprefix("ref: refs/heads/")
    sparse_path = sparse_path.strip("/")
    if sparse_path in ("", "."):
        run("sparse-checkout", "disable")
    else:
        others = [_app_directory(a.strip("/")) for a in also]
        _set_cone(run, dest, _app_directory(sparse_path), *others)
        run("checkout", "--quiet", head_branch)
        if not (dest / sparse_path).exists():
            entry = run("ls-tree", "HEAD", "--", sparse_path)
            if not entry:
                raise AppPathMissing(
                    f"{sparse_path}: not found in {display} on branch {head_branch}",
                    hint="check --app (a path inside the repository) and --branch",
                )
            parent_cone = str(PurePosixPath(sparse_path).parent)
            _set_cone(run, dest, parent_cone, *others, reapply=True)
    if sparse_path in ("", "."):
        run("checkout", "--quiet", head_branch)
    ws = Workspace(dest, head_branch, "origin", display, run, temporary=True)
    ws.base = ws.head()
    return ws


def _app_directory(app: str) -> str:
    """The directory an app path stands for: the path, or a YAML file's directory."""
    return str(PurePosixPath(app).parent) if app.endswith((".yaml", ".yml")) else app


def _set_cone(run: Git, dest: Path, *cones: str, reapply: bool = False) -> None:
    if any(cone in ("", ".") for cone in cones):
        run("sparse-checkout", "disable")
        return
    patterns = _cone_patterns(*cones)
    if patterns is None:
        run("sparse-checkout", "set", "--cone", "--", *cones)
        return
    (dest / ".git" / "info" / "sparse-checkout").write_text(patterns)
    if reapply:
        run("sparse-checkout", "reapply")


@contextmanager
def open_workspace(
    repo: str,
    *,
    app_path: str,
    branch: str | None = None,
    settings: Settings | None = None,
    allow_unpushed: bool = False,
    fetch: bool = True,
    also: Sequence[str] = (),
) -> Iterator[Workspace]:
    """A checkout to edit in: ``repo`` is a local directory or a URL (cloned into a temp dir,
    sparse: ``app_path`` and the ``also`` apps, each a directory or a file).

    The temporary clone is removed when the block ends, whatever happens.
    """
    if is_remote(repo):
        url, url_credentials = split_url_credentials(repo)
        credentials = credentials_from(settings, url_credentials)
        parent = Path(tempfile.mkdtemp(prefix="gitops-release-"))
        try:
            yield _clone(
                url, branch=branch, sparse_path=app_path, credentials=credentials, parent=parent,
                also=also,
            )  # fmt: skip
        finally:
            shutil.rmtree(parent, ignore_errors=True)
        return
    path = Path(repo).expanduser()
    if not path.is_dir():
        raise UsageError(
            f"--repo {repo}: no such directory", hint="give a local checkout or a git URL"
        )
    yield _open_local(
        path,
        branch=branch,
        credentials=credentials_from(settings),
        allow_unpushed=allow_unpushed,
        fetch=fetch,
    )


def is_url(repo: str) -> bool:
    """True for ``scheme://...`` and scp-like ``user@host:path`` remotes."""
    if "://" in repo:
        return True
    head, sep, _ = repo.partition(":")
    return bool(sep) and "@" in head and "/" not in head


def is_bare_repository(path: str) -> bool:
    """A bare repository's directory (``/srv/git/gitops.git``): what git itself checks, HEAD,
    ``objects/`` and ``refs/`` (``is_git_directory`` in git's setup.c), read without a process."""
    root = Path(path).expanduser()
    return (root / "HEAD").is_file() and (root / "objects").is_dir() and (root / "refs").is_dir()


def is_remote(repo: str) -> bool:
    """Cloned rather than edited in place: a URL, or a bare repository's path, which git takes
    as a remote (``git clone /srv/git/gitops.git``) and which has no work tree to edit."""
    return is_url(repo) or is_bare_repository(repo)


@contextmanager
def open_history(
    repo: str, *, app_path: str, branch: str | None, settings: Settings | None, depth: int
) -> Iterator[Git]:
    """A git runner on the app's source with ``depth`` commits of its history: a local
    repository as it is (read only), or a blob-less clone of a URL, deepened, removed afterwards.
    What ``history``, ``rollback`` and the ancestry check read the release commits through."""
    if not is_url(repo):  # a bare repository is read in place too: git log needs no work tree
        path = Path(repo)
        if not path.is_dir():
            raise UsageError(
                f"{repo}: no such directory", hint="give a local checkout or a git URL"
            )
        yield Git(path)
        return
    with open_workspace(repo, app_path=app_path, branch=branch, settings=settings) as ws:
        ws.run(
            "fetch",
            "--quiet",
            "--no-tags",
            f"--deepen={depth}",
            what="fetch the app's history",
            remote=True,
        )
        yield ws.run


def is_ancestor(run: Git, ancestor: str, descendant: str) -> bool:
    """Is ``ancestor`` the same commit as ``descendant`` or one of its ancestors? (False too when
    git does not know one of them, e.g. beyond the history fetched.)"""
    status, _, _ = run.status("merge-base", "--is-ancestor", ancestor, descendant)
    return status == 0
