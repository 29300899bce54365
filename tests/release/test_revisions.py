"""``release/revisions.py``: does the synced revision contain the expected commit? Against a real
smart-HTTP git server on 127.0.0.1 that asks for a token even to fetch."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_release.argo.model import Application
from gitops_release.config import resolve
from gitops_release.errors import ExitCode, RemoteError
from gitops_release.git.auth import Credentials, git_environ
from gitops_release.release.revisions import git_contains
from gitops_release.sandbox.gitserver import GitServer
from tests.conftest import git

TOKEN = "revisions-test-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    srv = GitServer(tmp_path / "srv", TOKEN, auth_fetch=True, lifetime=120)
    srv.start()
    yield srv
    srv.stop()


def two_commits(server: GitServer, tmp_path: Path) -> tuple[Application, str, str]:
    """A GitOps repository with two commits on main; the Application that follows it."""
    work = tmp_path / "seed"
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    (work / "myapp").mkdir()
    shas = []
    for tag in ("v1", "v2"):
        (work / "myapp" / "rollout.yaml").write_text(f"image: ikubernetes/myapp:{tag}\n")
        git(work, "add", ".")
        git(work, "commit", "-q", "-m", f"myapp {tag}")
        shas.append(git(work, "rev-parse", "HEAD"))
    env = {**os.environ, **git_environ(Credentials("oauth2", TOKEN))}
    url = server.url("team/gitops.git")
    subprocess.run(["git", "push", "-q", url, "main"], cwd=work, env=env, check=True)
    app = Application(name="myapp", repo_url=url, path="myapp", target_revision="main")
    return app, shas[0], shas[1]


def test_a_later_tip_contains_the_commit_and_not_the_other_way(
    server: GitServer, tmp_path: Path
) -> None:
    app, first, second = two_commits(server, tmp_path)
    settings = resolve({}, environ={"GITOPS_RELEASE_GIT_TOKEN": TOKEN}, cwd=tmp_path)
    contains = git_contains(app, settings)
    assert contains(second, first)
    assert not contains(first, second)
    assert contains(first[:12], first)  # the same commit needs no git at all


def test_a_repository_that_refuses_us_is_exit_4_not_a_cached_no(
    server: GitServer, tmp_path: Path
) -> None:
    """A git auth failure used to be swallowed and cached as "not contained", so the wait ran
    into its timeout (exit 6) naming the wrong cause."""
    app, first, second = two_commits(server, tmp_path)
    contains = git_contains(app, resolve({}, environ={}, cwd=tmp_path))
    for _ in range(2):  # and it is not remembered as a "no"
        with pytest.raises(RemoteError) as caught:
            contains(second, first)
        assert caught.value.exit_code == ExitCode.REMOTE
        assert TOKEN not in str(caught.value)


def test_a_multi_source_app_is_pinned_by_its_values_sources_revision(
    server: GitServer, tmp_path: Path
) -> None:
    """Argo CD reports one revision per source (``status.sync.revisions``, read joined with
    ","); the commit is looked for in the values source's, at its position, in its repository."""
    values, first, second = two_commits(server, tmp_path)
    chart_sha = "c" * 40
    settings = resolve({}, environ={"GITOPS_RELEASE_GIT_TOKEN": TOKEN}, cwd=tmp_path)
    contains = git_contains(values, settings, position=1)
    assert contains(f"{chart_sha},{second}", first)  # a descendant, in the values repository
    assert contains(f"{chart_sha},{first}", first)
    assert not contains(f"{chart_sha},{first}", second)
    assert not contains(f"{first},{chart_sha}", first)  # the chart's position does not count
