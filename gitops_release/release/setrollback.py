"""``rollback --set COMMIT``: undo a release set in ONE commit (see ``release.releaseset``)."""

from __future__ import annotations

from dataclasses import replace

from gitops_release.config import Settings
from gitops_release.errors import UsageError
from gitops_release.git.auth import strip_credentials
from gitops_release.output import Output, short_sha
from gitops_release.release.edit import BumpRequest
from gitops_release.release.releaseset import Member, SetResult, bump_set


def undo_set(
    commit: str,
    req: BumpRequest,
    *,
    settings: Settings | None = None,
    out: Output | None = None,
) -> SetResult:
    """``rollback --set COMMIT``: every app that release commit changed goes back to the image
    it replaced (its ``Release-Previous``; a Helm app in the values files of its
    ``Release-Values``), in ONE commit (``[skip ci]``), each a compare-and-swap
    on the image the commit wrote: an app changed since is refused (exit 5), nothing written."""
    from gitops_release.git.repo import open_history
    from gitops_release.git.trailers import IMAGE, PATH, PREVIOUS, VALUES, groups, message_of
    from gitops_release.images import validate_tag

    out = out or Output()
    if not commit or commit.startswith("-") or any(c.isspace() for c in commit):
        raise UsageError(f"--set {commit!r}: not a commit", hint="give the release commit's sha")
    validate_tag(commit, what="--set (a commit)")
    with open_history(
        req.repo, app_path=".", branch=req.branch, settings=settings, depth=200
    ) as run:
        found = message_of(run, commit)
    if found is None:
        raise UsageError(
            f"--set {commit}: no such commit in {strip_credentials(req.repo)}",
            hint="give a commit of the branch (`git log --grep Release-Set` lists the sets); "
            "fetch a local checkout first",
        )
    sha, message = found
    apps = groups(message)
    if not apps:
        raise UsageError(
            f"commit {short_sha(sha)} is not a release commit (no Release-App trailers)",
            hint="give the commit `bump-image --set` or `deploy --set` made",
        )
    members = []
    for group in apps:
        name, path = group.get("Release-App", "?"), group.get(PATH, "")
        if not path or not group.get(PREVIOUS) or not group.get(IMAGE):
            raise UsageError(
                f"commit {short_sha(sha)}: {name} has no Release-Path / Release-Previous to go back to",
                hint=f"roll it back on its own: gitops-release rollback {name} --to TAG",
            )
        values = tuple(v.strip() for v in group.get(VALUES, "").split(",") if v.strip())
        members.append(Member(path, group[PREVIOUS], group[IMAGE], value_files=values))
    names = ", ".join(g.get("Release-App", "?") for g in apps)
    subject = req.message or f"rollback({names}): undo release set {short_sha(sha)}"
    return bump_set(
        members, replace(req, message=subject, skip_ci=True), settings=settings, out=out
    )
