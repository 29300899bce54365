"""Release sets: several apps' images changed in ONE commit (``bump-image --set api=v2 --set
worker=v2:expect=v1``), so a release of several services lands, and goes back, as one.

Each member is edited by meaning exactly as ``bump-image`` edits one app
(:func:`release.bump.prepare_edit`). Every member's edit runs on the same tip, and only when all
of them succeeded are their files written and committed together, with a trailer group per app
(:func:`git.trailers.set_message`): bad input (an unknown app, a wrong ``expect``) changes
nothing. ``git.push.land`` re-runs the whole set on the new tip after a lost race, so every edit
is re-applied there, never a text rebase.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gitops_release.config import Settings
from gitops_release.errors import UsageError
from gitops_release.git.auth import strip_credentials
from gitops_release.git.trailers import Group, set_message
from gitops_release.images import (
    ImageRef,
    check_tag_or_ref,
    is_reference,
    resolve_target,
    validate_tag,
    version,
)
from gitops_release.output import Output, short_sha
from gitops_release.record import write_record
from gitops_release.registry.check import ImageCheck
from gitops_release.release.bump import (
    BumpResult,
    Chooser,
    Prepared,
    check_landing,
    checkout,
    preload_module,
    prepare_edit,
)
from gitops_release.release.edit import BumpRequest, Edit, lexical_app

if TYPE_CHECKING:
    from gitops_release.git.push import RetryPolicy
    from gitops_release.git.repo import Workspace

EXPECT = ":expect="
SET_HINT = "give each app once: --set APP=TAG[:expect=CURRENT], e.g. --set api=v2:expect=v1"
SUBJECT_APPS = 4
"""A set's commit subject names up to this many apps' versions (the trailers name them all)."""


@dataclass(frozen=True)
class Member:
    """One app of a set: its path (or Argo CD Application), the new tag or reference, and the
    tag it must hold now (compare-and-swap, judged on the remote tip)."""

    app: str
    tag_or_ref: str
    expect_current: str | None = None
    trailers: tuple[tuple[str, str], ...] = ()
    """Trailers of this app's group (``env promote``'s ``Promoted-From``)."""
    value_files: tuple[str, ...] = ()
    """A Helm app's values files, as its Application names them (:attr:`ReleaseApp.value_files`);
    empty: the request's (``--values``), else the chart's ``values.yaml``."""


def parse_members(values: Sequence[str]) -> list[Member]:
    """``--set APP=TAG[:expect=CURRENT]`` values, checked (exit 2): well formed, valid tags,
    no app named twice."""
    members: list[Member] = []
    seen: dict[str, str] = {}
    for value in values:
        app, sep, rest = value.partition("=")
        app = app.strip()
        tag_or_ref, has_expect, expect = rest.rpartition(EXPECT)
        if not has_expect:
            tag_or_ref, expect = rest, ""
        if not sep or not app or not tag_or_ref or (has_expect and not expect):
            raise UsageError(f"--set {value!r}: expected APP=TAG[:expect=CURRENT]", hint=SET_HINT)
        check_tag_or_ref(tag_or_ref)
        if expect and not is_reference(expect):
            validate_tag(expect, what=f"--set {app}: expect")
        key = os.path.normpath(app)
        if key in seen:
            raise UsageError(
                f"--set names {app} twice ({seen[key]!r} and {value!r})",
                hint="a set changes each app once, in one commit; " + SET_HINT,
            )
        seen[key] = value
        members.append(Member(app, tag_or_ref, expect or None))
    if not members:
        raise UsageError("a release set needs at least one --set APP=TAG", hint=SET_HINT)
    return members


@dataclass
class SetEdit:
    """One application of every member's edit on one tip (``git.push.land``'s ``Edit``)."""

    members: list[tuple[Prepared, Member, Edit]]

    @property
    def changed(self) -> bool:
        return any(edit.changed for _, _, edit in self.members)

    @property
    def paths(self) -> list[str]:
        return [path for _, _, edit in self.members for path in edit.paths]


@dataclass
class SetResult:
    repo: str
    branch: str
    changed: bool
    commit: str | None = None
    pushed: bool = False
    attempts: int = 0
    merge_request_branch: str | None = None
    dry_run: bool = False
    apps: list[BumpResult] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        data = {
            "set": [a.app for a in self.apps],
            "repo": self.repo,
            "branch": self.branch,
            "changed": self.changed,
            "commit": self.commit,
            "pushed": self.pushed,
            "attempts": self.attempts,
            "merge_request_branch": self.merge_request_branch,
            "dry_run": self.dry_run,
            "apps": [a.payload() for a in self.apps],
        }
        return data

    def text(self) -> str:
        lines = []
        for a in self.apps:
            if not a.changed:
                lines.append(f"{a.app}: already at {a.new_tag or a.new}; nothing to change")
            elif self.dry_run:
                lines.append(a.diff.rstrip("\n"))
            else:
                lines += [
                    f"{a.app}: {c.file}: {c.yaml_path}: {c.old} -> {c.new}" for c in a.changes
                ]
        where = f"{self.branch} on {self.repo}"
        count = f"{len(self.apps)} app(s)"
        if not self.changed or self.dry_run:
            pass
        elif self.merge_request_branch:
            lines.append(
                f"committed {short_sha(self.commit or '')} ({count}, one commit) and pushed "
                f"{self.merge_request_branch} (merge request into {where})"
            )
        elif self.pushed:
            lines.append(
                f"committed {short_sha(self.commit or '')} ({count}, one commit) and pushed to {where}"
            )
        else:
            lines.append(
                f"committed {short_sha(self.commit or '')} ({count}) on {self.branch} (not pushed)"
            )
        return "\n".join(lines)


def _check(members: list[Member], req: BumpRequest, remote_repo: bool) -> None:
    if req.tag_or_ref or req.app or req.expect_current or req.semver:
        given = (
            (req.tag_or_ref and f"the tag {req.tag_or_ref!r}")
            or (req.app and f"--app {req.app}")
            or (req.expect_current and "--expect-current")
            or "--semver"
        )
        raise UsageError(
            f"--set and {given} mixed: a set gives each app its tag in its --set",
            hint=SET_HINT,
        )
    check_landing(req, remote_repo)


def _member_request(req: BumpRequest, member: Member) -> BumpRequest:
    return replace(
        req,
        tag_or_ref=member.tag_or_ref,
        app=member.app,
        expect_current=member.expect_current,
        trailers=req.trailers + member.trailers,
        value_files=member.value_files or req.value_files,
    )


def _prepare(
    ws: Workspace,
    req: BumpRequest,
    member: Member,
    *,
    remote_repo: bool,
    images: ImageCheck,
    out: Output,
) -> Prepared:
    app_arg = lexical_app(member.app) if remote_repo else member.app
    try:
        return prepare_edit(
            ws, _member_request(req, member), app_arg=app_arg, remote_repo=remote_repo,
            images=images, chooser=Chooser(images, out, ""), write=False,
        )  # fmt: skip
    except UsageError as err:
        raise UsageError(
            f"--set {member.app}: {err.message}", hint=err.hint or "nothing was changed"
        ) from None


def bump_set(
    members: list[Member],
    req: BumpRequest,
    *,
    settings: Settings | None = None,
    out: Output | None = None,
    open_workspace: Callable[..., AbstractContextManager[Any]] | None = None,
    policy: RetryPolicy | None = None,
    image_check: ImageCheck | None = None,
) -> SetResult:
    """Change the image of every member in ONE commit on ``req.repo``'s branch, and push it
    (re-applying every edit on a new tip after a lost race). ``req`` carries what the members
    share (repository, branch, message, ``--skip-ci``, ``--no-push``, ``--dry-run``...)."""
    from gitops_release.git.push import Landed, MergeRequest, land
    from gitops_release.git.repo import is_remote
    from gitops_release.git.repo import open_workspace as open_checkout

    out = out or Output()
    opener = open_workspace or open_checkout
    remote_repo = is_remote(req.repo)  # a URL, or a bare repository's path: cloned
    _check(members, req, remote_repo)
    preload_module("gitops_release.yaml.edit")  # overlaps git's clone and checkout, as for one app
    images = image_check or ImageCheck.from_settings(settings, out)
    images.preload()
    for member in members:
        if is_reference(member.tag_or_ref):
            images.verify(resolve_target(ImageRef(""), member.tag_or_ref, req.digest))
    first = lexical_app(members[0].app) if remote_repo else members[0].app
    if remote_repo:
        out.progress(
            f"cloning {strip_credentials(req.repo)} (partial, sparse: {len(members)} app(s))"
        )
    # a URL is cloned once, sparse on every member's directory (one checkout fetches them all)
    also = sorted({lexical_app(m.app) for m in members[1:]}) if remote_repo else []
    with checkout(
        opener, req, app_path=first, settings=settings, **({"also": also} if also else {})
    ) as ws:
        prepared = [
            _prepare(ws, req, m, remote_repo=remote_repo, images=images, out=out) for m in members
        ]
        _refuse_twice(
            [(p.rel, m.value_files) for p, m in zip(prepared, members, strict=True)], members
        )

        def apply(attempt: int) -> SetEdit:
            done = SetEdit(
                [(p, m, p.apply(attempt)) for p, m in zip(prepared, members, strict=True)]
            )
            owner: dict[str, str] = {}
            for p, _, edit in done.members:
                for path in edit.paths:
                    if path in owner:
                        raise UsageError(
                            f"{path} holds the images of both {owner[path]} and {p.app}",
                            hint="a set edits each file for one app; release them in two sets",
                        )
                    owner[path] = p.app
            if not req.dry_run:  # every edit succeeded: only now is anything written
                for _, _, edit in done.members:
                    for path, data in edit.outputs.items():
                        (ws.root / path).write_bytes(data)
            return done

        result = SetResult(
            repo=ws.display_url, branch=ws.branch, changed=False, dry_run=req.dry_run
        )
        if req.dry_run:
            edit, landed = apply(1), Landed(None, False, 0, ws.branch)
        else:
            mr = None
            if req.merge_request:
                mr = MergeRequest(
                    source=f"gitops-release/set-{len(members)}-apps-{short_sha(ws.base)}",
                    title=_subject(
                        req,
                        [
                            (p.app, m.tag_or_ref, None)
                            for p, m in zip(prepared, members, strict=True)
                        ],
                    ),
                )
            edit, landed = land(
                ws,
                apply=apply,
                message=lambda e: _message(req, e),
                push=not req.no_push,
                merge_request=mr,
                policy=policy,
                progress=out.progress,
            )
            result.merge_request_branch = mr.source if mr and landed.pushed else None
    result.changed = edit.changed
    result.commit, result.pushed, result.attempts = landed.commit, landed.pushed, landed.attempts
    for p, _, e in edit.members:
        result.apps.append(_app_result(p, e, result))
    if req.record is not None:
        write_record(req.record, "bump-image", result.payload())
    return result


def _refuse_twice(rels: list[tuple[str, tuple[str, ...]]], members: list[Member]) -> None:
    """Two spellings of one app (``apps/api`` and ``./apps/api/``) are one app named twice. Two
    multi-source apps may share a values repository's root: their values files tell them apart
    (and one file holding both images is refused when the edits are applied)."""
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    for key, member in zip(rels, members, strict=True):
        if key in seen:
            raise UsageError(
                f"--set names {key[0]} twice (as {seen[key]!r} and {member.app!r})",
                hint="a set changes each app once, in one commit; " + SET_HINT,
            )
        seen[key] = member.app


def _app_result(p: Prepared, e: Edit, whole: SetResult) -> BumpResult:
    return BumpResult(
        app=p.app,
        repo=whole.repo,
        branch=whole.branch,
        changed=e.changed,
        old=str(e.previous) if e.previous else "",
        new=str(e.target),
        file=e.changes[0].file if e.changes else None,
        yaml_path=e.changes[0].yaml_path if e.changes else None,
        commit=whole.commit if e.changed else None,
        pushed=whole.pushed and e.changed,
        attempts=whole.attempts,
        previous_tag=e.previous.tag if e.previous else None,
        new_tag=e.target.tag,
        digest=e.digest or None,
        dry_run=whole.dry_run,
        changes=e.changes,
        diff="".join(e.diffs),
    )


def _subject(req: BumpRequest, moves: list[tuple[str, str, ImageRef | None]]) -> str:
    """``release(api, worker): api v1 -> v2, worker v1 -> v2``; past a few apps,
    ``release(set of 50 apps): api v1 -> v2, ... and 46 more``."""
    apps = [app for app, _, _ in moves]
    scope = ", ".join(apps) if len(apps) <= SUBJECT_APPS else f"set of {len(apps)} apps"
    shown = [f"{app} {version(old) + ' -> ' if old else ''}{new}" for app, new, old in moves]
    more = len(shown) - SUBJECT_APPS
    text = ", ".join(shown[:SUBJECT_APPS]) + (f" and {more} more" if more > 0 else "")
    subject = req.message or f"release({scope}): {text}"
    if req.skip_ci and "[skip ci]" not in subject:
        subject += " [skip ci]"
    return subject


def _message(req: BumpRequest, done: SetEdit) -> str:
    changed = [(p, m, e) for p, m, e in done.members if e.changed]
    subject = _subject(req, [(p.app, version(e.target), e.previous) for p, _, e in changed])
    groups = [
        Group(
            app=p.app,
            path=p.rel,
            image=str(e.target),
            previous=str(e.previous or ""),
            digest=e.digest,
            extra=req.trailers + m.trailers,
            values=m.value_files or req.value_files,
        )
        for p, m, e in changed
    ]
    return set_message(subject, groups)
