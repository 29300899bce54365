"""Does the synced revision contain the expected commit? Equal, or a descendant (in a monorepo
other teams keep pushing, so Argo CD may sync a later tip that includes ours).

Ancestry needs the GitOps repository: a blob-less, sparse clone of the app's source through
:mod:`gitops_release.gitrepo`, made only when the two revisions differ, and cached per pair.
"""

from __future__ import annotations

from collections.abc import Callable

from gitops_release.argo.model import Application
from gitops_release.argo.wait import same_revision
from gitops_release.config import Settings
from gitops_release.errors import ReleaseError

DEPTH = 500


def git_contains(app: Application, settings: Settings | None = None) -> Callable[[str, str], bool]:
    """A ``contains(synced, expected)`` for :class:`gitops_release.wait.Expect`."""
    cache: dict[tuple[str, str], bool] = {}

    def contains(synced: str, expected: str) -> bool:
        if same_revision(synced, expected):
            return True
        if not synced or not expected or not app.repo_url:
            return False
        key = (synced, expected)
        if key not in cache:
            cache[key] = _is_ancestor(app, expected, synced, settings)
        return cache[key]

    return contains


def _is_ancestor(
    app: Application, ancestor: str, descendant: str, settings: Settings | None
) -> bool:
    from gitops_release.git import repo as gitrepo

    branch = None if app.target_revision in ("", "HEAD") else app.target_revision
    try:
        with gitrepo.open_workspace(
            app.repo_url, app_path=app.path or ".", branch=branch, settings=settings
        ) as ws:
            ws.run(
                "fetch",
                "--quiet",
                "--no-tags",
                f"--deepen={DEPTH}",
                what="fetch history",
                remote=True,
            )
            return ws.is_ancestor(ancestor, descendant)
    except ReleaseError:
        return False
