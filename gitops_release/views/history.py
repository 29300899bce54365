"""``history``: what was deployed when, from Argo CD's history and the release commits.

Argo CD's ``status.history`` gives the id, revision, time and who synced. The image, the previous
image, its digest and the author come from the commit: its ``Release-App``, ``Release-Image``,
``Release-Previous`` and ``Release-Digest`` trailers (written by ``bump-image``/``deploy``), read from the GitOps
repository through :mod:`gitops_release.git.repo` (a blob-less clone of the app's source, or a
local checkout with ``--repo DIR``). When Git cannot be read, Argo CD's own revision metadata is
tried, and failing that the rows say only what Argo CD knows.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from gitops_release.argo.client import ArgoCD
from gitops_release.argo.model import Application, ValuesSource
from gitops_release.config import Settings
from gitops_release.errors import ReleaseError, UsageError
from gitops_release.git.trailers import DIGEST, IMAGE, PREVIOUS, for_path, set_apps
from gitops_release.output import Output
from gitops_release.views.render import HistoryRow

DEPTH = 200


def _commits(
    app: Application, revisions: list[str], settings: Settings | None, repo: str | None
) -> dict[str, dict[str, str]]:
    """For each revision: the newest commit at or before it that touched the app's path."""
    from gitops_release.git.repo import is_url, open_history
    from gitops_release.git.trailers import commit_at

    if repo and not is_url(repo) and not Path(repo).is_dir():
        raise UsageError(f"--repo {repo}: no such directory")
    with open_history(
        repo or app.repo_url, app_path=app.path or ".", branch=app.branch, settings=settings,
        depth=DEPTH,
    ) as run:  # fmt: skip
        found = {}
        for revision in revisions:
            commit = commit_at(run, revision, app.path or ".")
            if commit is not None:
                found[revision] = commit
        return found


def history_rows(
    argocd: ArgoCD,
    name: str,
    *,
    settings: Settings | None = None,
    repo: str | None = None,
    out: Output | None = None,
) -> list[HistoryRow]:
    """Deployed revisions, newest first. A multi-source app whose image is written in a ``ref``
    source's values files is read there: that source's revision of each deployment (Argo CD
    records one per source), its repository, the directory of its values files."""
    app = argocd.get_app(name)
    entries = sorted(app.history, key=lambda h: h.id, reverse=True)
    values = app.values_source
    if values is not None:
        entries = [replace(e, revision=_at(e.revision, values.index)) for e in entries]
        folder = os.path.dirname(values.files[-1]) if values.files else ""
        app = replace(
            app,
            repo_url=values.repo_url,
            path=folder or ".",
            target_revision=values.target_revision,
        )
    revisions = [e.revision for e in entries if e.revision]
    commits: dict[str, dict[str, Any]] = {}
    try:
        commits = _commits(app, revisions, settings, repo) if revisions else {}
    except ReleaseError as err:
        if out is not None:
            out.warn(
                f"cannot read the release commits from Git ({err}); showing Argo CD's history only"
            )
    rows = []
    for entry in entries:
        meta = commits.get(entry.revision) or _metadata(argocd, name, entry.revision, values)
        message = str(meta.get("message") or "")
        found = for_path(message, app.path or "")  # a release set: this app's own group
        rows.append(
            HistoryRow(
                id=entry.id,
                revision=entry.revision,
                deployed_at=entry.deployed_at,
                initiated_by=entry.initiated_by,
                image=found.get(IMAGE, ""),
                previous=found.get(PREVIOUS, ""),
                digest=found.get(DIGEST, ""),
                author=str(meta.get("author") or ""),
                message=message.strip().splitlines()[0] if message.strip() else "",
                release_set=set_apps(message),
            )
        )
    return rows


def _at(revisions: str, index: int) -> str:
    """One source's revision of a multi-source deployment (Argo CD's ``revisions``, read
    joined with ",")."""
    parts = revisions.split(",")
    return parts[index] if index < len(parts) else ""


def _metadata(
    argocd: ArgoCD, name: str, revision: str, values: ValuesSource | None
) -> dict[str, Any]:
    """Argo CD's metadata of ``revision``; of a multi-source app, asked of the values source."""
    if values is None:
        return argocd.revision_metadata(name, revision)
    return argocd.revision_metadata(name, revision, source_index=values.index)
