"""A release set named by Argo CD Applications (``bump-image --set api=v2 --argocd-apps``, and
``deploy --set``): each app's path comes from its Application's source, and all of them must
share one repository and branch, since a set is one commit."""

from __future__ import annotations

from dataclasses import replace

from gitops_release.argo.connection import Connection
from gitops_release.errors import UsageError
from gitops_release.output import Output
from gitops_release.release.app import ReleaseApp, Selection
from gitops_release.release.edit import BumpRequest
from gitops_release.release.releaseset import Member, SetResult, bump_set


def one_source(rels: dict[str, ReleaseApp]) -> tuple[str, str | None]:
    """The repository and branch every app of the set is written in (exit 2 when they differ).
    A multi-source Application is written in the ``ref`` source holding its values files."""
    sources = {name: rel.source for name, rel in rels.items()}
    first = next(iter(sources))
    repo, _, branch = sources[first]
    for name, (other_repo, _, other_branch) in sources.items():
        if (other_repo, other_branch) != (repo, branch):
            raise UsageError(
                f"{first} and {name} live in different repositories or branches "
                f"({_where(rels[first], repo, branch)}; {_where(rels[name], other_repo, other_branch)}): "
                "a release set is one commit",
                hint="release them in one set per repository",
            )
    return repo, branch


def members_of(members: list[Member], rels: dict[str, ReleaseApp]) -> list[Member]:
    """The set's members as Git sees them: each Application's path in its repository and the
    values files a Helm app's image is written in."""
    return [
        replace(m, app=rels[m.app].source[1], value_files=rels[m.app].value_files) for m in members
    ]


def _where(rel: ReleaseApp, repo: str, branch: str | None) -> str:
    at = f"{repo} {branch or 'HEAD'}"
    if rel.values_position() is not None:
        return f"{rel.name} writes its image in its values source, {at}"
    return at


def bump_set_from_applications(
    conn: Connection, members: list[Member], req: BumpRequest, *, out: Output
) -> SetResult:
    """``bump-image --set NAME=TAG ... --argocd-apps``: the set's names are Argo CD Applications;
    repository, paths and branch come from their sources (``--repo``/``--branch`` override).
    Warns for an Application that overrides the image itself (the Git change would not show)."""
    rels = {
        m.app: ReleaseApp(
            conn, m.app, out, selection=Selection(req.container, req.image_name)
        ).load()
        for m in members
    }
    for name, rel in rels.items():
        where = rel.app_overrides()
        if where:
            out.warn(
                f"application {name} overrides the image in Argo CD itself: {where}; "
                "this Git change will not take effect until that override is removed"
            )
    repo, branch = one_source(rels)
    paths = members_of(members, rels)
    resolved = replace(req, repo=req.repo or repo, branch=req.branch or branch)
    return bump_set(paths, resolved, settings=conn.settings, out=out)
