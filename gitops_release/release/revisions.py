"""Does the synced revision contain the expected commit? Equal, or a descendant (in a monorepo
other teams keep pushing, so Argo CD may sync a later tip that includes ours).

Ancestry needs the GitOps repository: a blob-less, sparse clone of the app's source through
:mod:`gitops_release.git.repo`, made only when the two revisions differ, and cached per pair.
A repository that cannot be read fails the wait (exit 4) instead of looking like a "no".
"""

from __future__ import annotations

from collections.abc import Callable

from gitops_release.argo.model import Application
from gitops_release.argo.wait import same_revision
from gitops_release.config import Settings

DEPTH = 500


def git_contains(
    app: Application, settings: Settings | None = None, *, position: int | None = None
) -> Callable[[str, str], bool]:
    """A ``contains(synced, expected)`` for :class:`gitops_release.argo.wait.Expect`.

    ``position``: a multi-source app's revisions come one per source (joined with ","); the
    release commit is looked for in the one at this position (``app`` is that source's)."""
    cache: dict[tuple[str, str], bool] = {}

    def contains(synced: str, expected: str) -> bool:
        if position is not None and "," in synced:
            parts = synced.split(",")
            synced = parts[position] if position < len(parts) else ""
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
    """Asks git. A failure to read the repository (auth, network, a missing repository) is an
    error for the user to see (exit 4), not a "no": a "no" is cached and would only end in a
    timeout (exit 6), naming the wrong cause."""
    from gitops_release.git.repo import is_ancestor, open_history

    with open_history(
        app.repo_url, app_path=app.path or ".", branch=app.branch, settings=settings, depth=DEPTH
    ) as run:
        return is_ancestor(run, ancestor, descendant)
