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
    """The repository and branch every app of the set is written in (exit 2 when they differ,
    or when an app's image lives in Helm values files named by its Application)."""
    sources = {name: rel.source for name, rel in rels.items()}
    first = next(iter(sources))
    repo, _, branch = sources[first]
    for name, (other_repo, _, other_branch) in sources.items():
        if (other_repo, other_branch) != (repo, branch):
            raise UsageError(
                f"{first} and {name} live in different repositories or branches "
                f"({repo} {branch or 'HEAD'}; {other_repo} {other_branch or 'HEAD'}): "
                "a release set is one commit",
                hint="release them in one set per repository",
            )
        if rels[name].value_files:
            raise UsageError(
                f"{name} renders a Helm chart with values files: not supported in a set yet",
                hint="release it on its own",
            )
    return repo, branch


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
    paths = [replace(m, app=rels[m.app].source[1]) for m in members]
    resolved = replace(req, repo=req.repo or repo, branch=req.branch or branch)
    return bump_set(paths, resolved, settings=conn.settings, out=out)
