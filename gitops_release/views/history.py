"""``history``: what was deployed when, from Argo CD's history and the release commits.

Argo CD's ``status.history`` gives the id, revision, time and who synced. The image, the previous
image and the author come from the commit: its ``Release-App``, ``Release-Image`` and
``Release-Previous`` trailers (written by ``bump-image``/``deploy``), read from the GitOps
repository through :mod:`gitops_release.gitrepo` (a blob-less clone of the app's source, or a
local checkout with ``--repo DIR``). When Git cannot be read, Argo CD's own revision metadata is
tried, and failing that the rows say only what Argo CD knows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitops_release.argo.client import ArgoCD
from gitops_release.argo.model import Application
from gitops_release.config import Settings
from gitops_release.errors import ReleaseError, UsageError
from gitops_release.output import Output
from gitops_release.views.render import HistoryRow

TRAILERS = ("Release-App", "Release-Image", "Release-Previous")
DEPTH = 200
_SEP, _END = "\x1f", "\x1e"


def trailers(message: str) -> dict[str, str]:
    """``Key: value`` lines of the last paragraph of a commit message (git trailers)."""
    paragraph = message.strip().split("\n\n")[-1]
    found = {}
    for line in paragraph.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in TRAILERS:
            found[key.strip()] = value.strip()
    return found


def _commits(
    app: Application, revisions: list[str], settings: Settings | None, repo: str | None
) -> dict[str, dict[str, str]]:
    """For each revision: the newest commit at or before it that touched the app's path."""
    from gitops_release.git import repo as gitrepo

    def read(run: gitrepo.Git) -> dict[str, dict[str, str]]:
        found = {}
        fmt = _SEP.join(("%H", "%an", "%aI", "%B")) + _END
        for revision in revisions:
            status, out, _ = run.status(
                "log", "-n", "1", f"--format={fmt}", revision, "--", app.path or "."
            )
            if status != 0 or not out.strip():
                continue
            sha, author, date, body = [*out.strip().rstrip(_END).split(_SEP), "", "", ""][:4]
            found[revision] = {"sha": sha, "author": author, "date": date, "message": body}
        return found

    if repo and not gitrepo.is_url(repo):
        if not Path(repo).is_dir():
            raise UsageError(f"--repo {repo}: no such directory")
        return read(gitrepo.Git(Path(repo)))
    branch = None if app.target_revision in ("", "HEAD") else app.target_revision
    with gitrepo.open_workspace(
        repo or app.repo_url, app_path=app.path or ".", branch=branch, settings=settings
    ) as ws:
        ws.run(
            "fetch",
            "--quiet",
            "--no-tags",
            f"--deepen={DEPTH}",
            what="fetch the app's history",
            remote=True,
        )
        return read(ws.run)


def history_rows(
    argocd: ArgoCD,
    name: str,
    *,
    settings: Settings | None = None,
    repo: str | None = None,
    out: Output | None = None,
) -> list[HistoryRow]:
    """Deployed revisions, newest first."""
    app = argocd.get_app(name)
    entries = sorted(app.history, key=lambda h: h.id, reverse=True)
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
        meta = commits.get(entry.revision) or argocd.revision_metadata(name, entry.revision)
        message = str(meta.get("message") or "")
        found = trailers(message)
        rows.append(
            HistoryRow(
                id=entry.id,
                revision=entry.revision,
                deployed_at=entry.deployed_at,
                initiated_by=entry.initiated_by,
                image=found.get("Release-Image", ""),
                previous=found.get("Release-Previous", ""),
                author=str(meta.get("author") or ""),
                message=message.strip().splitlines()[0] if message.strip() else "",
            )
        )
    return rows
