"""gitrepo: the small functions other commands use, on real repositories and bare remotes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_release.config import resolve
from gitops_release.errors import NotLanded, RemoteError, UsageError
from gitops_release.git import auth as gitauth
from gitops_release.git import repo as gitrepo
from gitops_release.git.push import push_branch
from tests.conftest import GitRemote, git


def test_origin_url_strips_credentials(git_remote: GitRemote) -> None:
    assert gitrepo.origin_url(git_remote.checkout) == str(git_remote.bare)
    git(
        git_remote.checkout,
        "remote",
        "set-url",
        "origin",
        "https://bot:s3cr3t-token@git.example/x.git",
    )
    assert gitrepo.origin_url(git_remote.checkout) == "https://git.example/x.git"


def test_origin_url_none_without_remote(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    assert gitrepo.origin_url(tmp_path) is None


def test_current_branch_and_detached_head(git_remote: GitRemote) -> None:
    assert gitrepo.current_branch(git_remote.checkout) == "main"
    git(git_remote.checkout, "checkout", "-q", "--detach")
    assert gitrepo.current_branch(git_remote.checkout) is None


def test_commit_paths_commits_only_the_named_files(git_remote: GitRemote) -> None:
    co = git_remote.checkout
    (co / "apps" / "a").mkdir(parents=True)
    (co / "apps" / "a" / "rollout.yaml").write_text("kind: Rollout\n")
    (co / "other.txt").write_text("not mine\n")
    sha = gitrepo.commit_paths(co, [Path("apps/a/rollout.yaml")], "scaffold a")
    assert sha == git(co, "rev-parse", "HEAD")
    assert git(co, "show", "--name-only", "--format=", "HEAD") == "apps/a/rollout.yaml"
    assert "?? other.txt" in git(co, "status", "--porcelain")


def test_push_branch_pushes_to_origin(git_remote: GitRemote) -> None:
    co = git_remote.checkout
    (co / "f.txt").write_text("x\n")
    sha = gitrepo.commit_paths(co, ["f.txt"], "add f")
    push_branch(co, settings=resolve({}, environ={}, cwd=co))
    assert git(git_remote.bare, "rev-parse", "main") == sha


def test_push_branch_behind_is_not_landed(git_remote: GitRemote, tmp_path: Path) -> None:
    other = git_remote.clone(tmp_path / "other")
    (other / "o.txt").write_text("o\n")
    git(other, "add", "o.txt")
    git(other, "commit", "-q", "-m", "other")
    git(other, "push", "-q", "origin", "main")
    co = git_remote.checkout
    (co / "f.txt").write_text("x\n")
    gitrepo.commit_paths(co, ["f.txt"], "add f")
    with pytest.raises(NotLanded, match="rejected"):
        push_branch(co)


def test_push_branch_hook_declined_is_remote_error(git_remote: GitRemote) -> None:
    hook = git_remote.bare / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\necho 'GitLab: You are not allowed to push code to protected branches'\nexit 1\n"
    )
    hook.chmod(0o755)
    co = git_remote.checkout
    (co / "f.txt").write_text("x\n")
    gitrepo.commit_paths(co, ["f.txt"], "add f")
    with pytest.raises(RemoteError, match="protected branches"):
        push_branch(co)


def test_push_branch_detached_is_usage_error(git_remote: GitRemote) -> None:
    git(git_remote.checkout, "checkout", "-q", "--detach")
    with pytest.raises(UsageError, match="detached"):
        push_branch(git_remote.checkout)


def test_split_url_credentials_moves_them_out_of_the_url() -> None:
    url, creds = gitauth.split_url_credentials("https://bot:tok%40en@git.example:8443/g/r.git")
    assert url == "https://git.example:8443/g/r.git"
    assert creds is not None and (creds.user, creds.token) == ("bot", "tok@en")
    url, creds = gitauth.split_url_credentials("https://glpat-abcdef@git.example/r.git")
    assert url == "https://git.example/r.git"
    assert creds is not None and (creds.user, creds.token) == ("oauth2", "glpat-abcdef")
    assert gitauth.split_url_credentials("/srv/r.git") == ("/srv/r.git", None)


def test_git_environ_appends_to_existing_config_count() -> None:
    env = gitauth.git_environ(gitauth.Credentials("oauth2", "t0ken"), {"GIT_CONFIG_COUNT": "2"})
    count = int(env["GIT_CONFIG_COUNT"])
    assert "GIT_CONFIG_KEY_0" not in env and "GIT_CONFIG_KEY_1" not in env
    pairs = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(2, count)}
    assert pairs["http.extraHeader"].startswith("Authorization: Basic ")
    assert "t0ken" not in pairs["http.extraHeader"]
    assert pairs["maintenance.auto"] == "false"


@pytest.mark.parametrize(
    "directories",
    [
        ["apps"],
        ["apps/web"],
        ["a/b/c/d"],
        # a release set: several apps' directories in one cone (one checkout fetches them all)
        ["apps/web", "apps/api", "envs/prod/worker", "apps/api/sub", "envs/dev"],
        ["apps", "apps/web"],
    ],
)
def test_cone_patterns_match_what_git_writes(tmp_path: Path, directories: list[str]) -> None:
    git(tmp_path, "init", "-q")
    git(tmp_path, "sparse-checkout", "set", "--cone", *directories)
    written = (tmp_path / ".git" / "info" / "sparse-checkout").read_text()
    assert gitrepo._cone_patterns(*directories) == written


def test_not_a_repository(tmp_path: Path) -> None:
    assert gitrepo.current_branch(tmp_path) is None
    assert gitrepo.toplevel(tmp_path) is None
