"""``views/history.py`` on its own: Argo CD's history joined with the release commits' trailers,
read from a real local repository (``--repo DIR``)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from gitops_release.argo.model import Application, HistoryEntry
from gitops_release.git.trailers import release_message
from gitops_release.output import Output
from gitops_release.views.history import history_rows
from tests.conftest import git


class ArgoCDHistory:
    """The two calls history makes, answered from memory (the HTTP side has its own tests)."""

    def __init__(self, app: Application, metadata: dict[str, dict[str, Any]]) -> None:
        self.app, self.metadata = app, metadata

    def get_app(self, name: str) -> Application:
        return self.app

    def revision_metadata(self, name: str, revision: str) -> dict[str, Any]:
        return self.metadata.get(revision, {})


def test_rows_newest_first_with_images_from_the_trailers(tmp_path: Path) -> None:
    repo = tmp_path / "gitops"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "myapp").mkdir()
    shas = []
    for image, previous in (("x:v1", ""), ("x:v2", "x:v1")):
        (repo / "myapp" / "rollout.yaml").write_text(f"image: {image}\n")
        git(repo, "add", ".")
        message = release_message(
            f"release(myapp): {image}", app="myapp", path="myapp", image=image, previous=previous
        )
        git(repo, "commit", "-q", "-m", message)
        shas.append(git(repo, "rev-parse", "HEAD"))
    app = Application(
        name="myapp",
        repo_url="https://git.example/gitops.git",
        path="myapp",
        history=(
            HistoryEntry(1, shas[0], "2024-05-01T10:00:00Z", initiated_by="automated"),
            HistoryEntry(2, shas[1], "2024-05-01T11:00:00Z", initiated_by="admin"),
            HistoryEntry(3, "f" * 40, "2024-05-01T12:00:00Z"),  # not in this repository
        ),
    )
    argocd = ArgoCDHistory(app, {"f" * 40: {"message": "from Argo CD", "author": "repo-server"}})
    rows = history_rows(argocd, "myapp", repo=str(repo))  # type: ignore[arg-type]
    assert [(r.id, r.image, r.previous, r.initiated_by) for r in rows] == [
        (3, "", "", ""),
        (2, "x:v2", "x:v1", "admin"),
        (1, "x:v1", "", "automated"),
    ]
    assert rows[0].message == "from Argo CD" and rows[0].author == "repo-server"
    assert rows[1].message == "release(myapp): x:v2" and rows[1].author == "Test Author"


def test_git_that_cannot_be_read_leaves_argo_cds_history_and_a_warning(tmp_path: Path) -> None:
    app = Application(name="myapp", history=(HistoryEntry(1, "a" * 40),))
    argocd = ArgoCDHistory(app, {"a" * 40: {"message": "deploy v1\n\nRelease-Image: x:v1"}})
    err = io.StringIO()
    rows = history_rows(argocd, "myapp", repo=str(tmp_path / "nope"), out=Output(err=err))  # type: ignore[arg-type]
    assert [(r.id, r.image, r.message) for r in rows] == [(1, "x:v1", "deploy v1")]
    assert "no such directory" in err.getvalue() and "Argo CD's history only" in err.getvalue()


def test_a_release_sets_commit_shows_each_apps_own_image_and_the_set(tmp_path: Path) -> None:
    from gitops_release.git.trailers import Group, set_message
    from gitops_release.views.render import render_history

    repo = tmp_path / "gitops"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    for app in ("api", "web"):
        (repo / app).mkdir()
        (repo / app / "rollout.yaml").write_text(f"image: {app}:v2\n")
    git(repo, "add", ".")
    groups = [Group(a, a, f"team/{a}:v2", f"team/{a}:v1") for a in ("api", "web")]
    git(repo, "commit", "-q", "-m", set_message("release(api, web): v2", groups))
    sha = git(repo, "rev-parse", "HEAD")
    app = Application(
        name="api",
        repo_url="https://git.example/gitops.git",
        path="api",
        history=(HistoryEntry(1, sha, "2024-05-01T10:00:00Z"),),
    )
    [row] = history_rows(ArgoCDHistory(app, {}), "api", repo=str(repo))  # type: ignore[arg-type]
    assert (row.image, row.previous) == ("team/api:v2", "team/api:v1")
    assert row.release_set == ["api", "web"]
    assert "api, web" in render_history([row])
