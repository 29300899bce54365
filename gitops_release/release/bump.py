"""``bump-image``: change an app's image in Git, commit and push (deploy, rollback and abort write
their images through it too, via ``release.app``).

``bump_image`` picks the image by meaning (one repository in the app, or ``--container`` /
``--image-name``), edits it byte-exactly with ``yaml.edit``, and lands the commit with
``git.push.land``: on a lost race the same edit is re-applied on the new remote tip, so
"already at that tag" and ``--expect-current`` are always judged against the remote tip.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitops_release.config import Settings
from gitops_release.errors import UsageError
from gitops_release.git.auth import strip_credentials
from gitops_release.images import (
    DIGEST_RE,
    ImageRef,
    check_tag_or_ref,
    is_reference,
    new_tag,
    parse_image,
    resolve_target,
    validate_tag,
)
from gitops_release.output import Output, short_sha
from gitops_release.record import write_record
from gitops_release.registry.check import ImageCheck
from gitops_release.registry.ranges import Pick, check_range, pick_tag
from gitops_release.release.chart import chart_values, directories_outside, is_chart
from gitops_release.release.edit import (
    BumpRequest,
    Edit,
    FileChange,
    app_name,
    commit_message,
    lexical_app,
    make_edit,
    relative_app,
    yaml_files,
)
from gitops_release.release.kustomize import (
    image_transformers,
    kustomization_file,
    remote_resources,
)
from gitops_release.release.kustomize import layers as kustomize_layers
from gitops_release.release.render import chart_renderer, kustomize_renderer

if TYPE_CHECKING:
    from gitops_release.git.push import RetryPolicy
    from gitops_release.git.repo import Workspace


@dataclass
class BumpResult:
    app: str
    repo: str
    branch: str
    changed: bool
    old: str
    new: str
    file: str | None = None
    yaml_path: str | None = None
    commit: str | None = None
    pushed: bool = False
    attempts: int = 0
    previous_tag: str | None = None
    new_tag: str | None = None
    digest: str | None = None
    """The registry's digest of the new image (pinned with --pin-digest, else as checked)."""
    semver: dict[str, Any] | None = None
    """--semver: the range, the tags that satisfy it (highest first) and the one chosen."""
    merge_request_branch: str | None = None
    dry_run: bool = False
    changes: list[FileChange] = field(default_factory=list)
    render: str | None = None
    """How the edited chart or kustomization was rendered (``helm template``), or
    ``not rendered (why)``; None for plain manifests."""
    rendered: list[dict[str, str]] | None = None
    """The containers the render runs the edited image in: workload, container, image."""
    diff: str = ""

    def payload(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("diff")
        if self.dry_run:
            data["diff"] = self.diff
        return data

    def text(self) -> str:
        if not self.changed:
            return f"{self.app}: already at {self.new_tag or self.new}; nothing to change"
        if self.dry_run:
            picked = ""
            if self.semver:
                picked = (
                    f"--semver {self.semver['range']}: candidates "
                    f"{', '.join(self.semver['candidates'])}; choice {self.semver['choice']}\n"
                )
            rendered = f"\n{self.rendered_line()}" if self.render else ""
            return picked + self.diff.rstrip("\n") + rendered
        lines = [f"{c.file}: {c.yaml_path}: {c.old} -> {c.new}" for c in self.changes]
        if self.render:
            lines.append(self.rendered_line())
        where = f"{self.branch} on {self.repo}"
        if self.merge_request_branch:
            lines.append(
                f"committed {short_sha(self.commit or '')} and pushed {self.merge_request_branch} "
                f"(merge request into {where})"
            )
        elif self.pushed:
            lines.append(f"committed {short_sha(self.commit or '')} and pushed to {where}")
        else:
            lines.append(
                f"committed {short_sha(self.commit or '')} on {self.branch} (not pushed: --no-push)"
            )
        return "\n".join(lines)

    def rendered_line(self) -> str:
        """What the edited chart or kustomization renders ("" for plain manifests)."""
        if not self.render:
            return ""
        if self.rendered is None:
            return self.render
        shown = "; ".join(f"{r['workload']} {r['container']} {r['image']}" for r in self.rendered)
        return f"rendered ({self.render}): {shown or 'no container with this image'}"


def check_semver_request(semver: str, tag_or_ref: str) -> ImageRef | None:
    """``--semver RANGE`` with TAG_OR_REF: a readable range, and an image repository without tag
    or digest (returned), or nothing (None: the app's image)."""
    check_range(semver)
    if tag_or_ref and not is_reference(tag_or_ref):
        raise UsageError(
            f"--semver {semver} picks the tag: {tag_or_ref!r} is a tag too",
            hint="give the image repository (registry/team/app) or nothing (the app's image)",
        )
    if not tag_or_ref:
        return None
    ref = parse_image(tag_or_ref, what="new image")
    if ref.tag or ref.digest:
        raise UsageError(f"--semver {semver} picks the tag: give {ref.name} without tag or digest")
    return ref


def check_target(semver: str | None, tag_or_ref: str) -> None:
    """The new tag or reference, or the ``--semver`` range that picks it (``bump-image``,
    ``deploy``): exit 2 when neither is given or either is malformed."""
    if semver:
        check_semver_request(semver, tag_or_ref)
    elif not tag_or_ref:
        raise UsageError("give the new tag (TAG_OR_REF) or a range to pick it by (--semver)")
    else:
        check_tag_or_ref(tag_or_ref)


def _check_request(req: BumpRequest, remote_repo: bool) -> None:
    check_target(req.semver, req.tag_or_ref)
    if req.expect_current and not is_reference(req.expect_current):
        validate_tag(req.expect_current, what="--expect-current")
    check_landing(req, remote_repo)


def check_landing(req: BumpRequest, remote_repo: bool) -> None:
    """How the commit lands, checked before anything is cloned (one app or a set): the record
    file is writable, ``--no-push`` neither beside ``--merge-request`` nor on a clone that is
    thrown away."""
    from gitops_release.record import check_writable

    check_writable(req.record, "--record")
    if req.no_push and req.merge_request:
        raise UsageError("--no-push and --merge-request contradict each other")
    if req.no_push and remote_repo:
        raise UsageError(
            "--no-push with a repository URL would throw the commit away with the temporary clone",
            hint="use --dry-run to see the change, or --repo with a local checkout",
        )


def bump_image(
    req: BumpRequest,
    *,
    settings: Settings | None = None,
    out: Output | None = None,
    open_workspace: Callable[..., AbstractContextManager[Any]] | None = None,
    policy: RetryPolicy | None = None,
    image_check: ImageCheck | None = None,
) -> BumpResult:
    """Change the image of ``req.app`` to ``req.tag_or_ref`` in Git, commit and push.

    The registry is asked first (``--verify-image``): a full reference before the clone; a bare
    tag, whose repository is in the files, once the files are read and before any is written."""
    from gitops_release.git.push import Landed, MergeRequest, land
    from gitops_release.git.repo import is_remote
    from gitops_release.git.repo import open_workspace as open_checkout

    out = out or Output()
    preload_module("gitops_release.yaml.edit")
    opener = open_workspace or open_checkout
    remote_repo = is_remote(req.repo)
    _check_request(req, remote_repo)
    images = image_check or ImageCheck.from_settings(settings, out)
    images.preload()
    if is_reference(req.tag_or_ref) and not req.semver:
        images.verify(resolve_target(ImageRef(""), req.tag_or_ref, req.digest))
    chooser = Chooser(images, out, req.semver or "")
    app_arg = lexical_app(req.app) if remote_repo else req.app
    if remote_repo:
        out.progress(f"cloning {strip_credentials(req.repo)} (partial, sparse: {app_arg})")
    with checkout(opener, req, app_path=app_arg, settings=settings) as ws:
        prepared = prepare_edit(
            ws, req, app_arg=app_arg, remote_repo=remote_repo, images=images, chooser=chooser,
            write=not req.dry_run, settings=settings,
        )  # fmt: skip
        app, rel, apply = prepared.app, prepared.rel, prepared.apply
        result = BumpResult(
            app=app,
            repo=ws.display_url,
            branch=ws.branch,
            changed=False,
            old="",
            new="",
            dry_run=req.dry_run,
        )
        if req.dry_run:
            edit = apply(1)
            landed = Landed(None, False, 0, ws.branch)
        else:
            mr = None
            if req.merge_request:
                tag = _branch_tag(req.tag_or_ref) if not req.semver else "semver"
                mr = MergeRequest(
                    source=f"gitops-release/{app}-{tag}-{short_sha(ws.base)}",
                    title=f"release({app}): {req.tag_or_ref}",
                )
            edit, landed = land(
                ws,
                apply=apply,
                message=lambda e: commit_message(req, app, rel, e),
                push=not req.no_push,
                merge_request=mr,
                policy=policy,
                progress=out.progress,
            )
            result.merge_request_branch = mr.source if mr and landed.pushed else None
    result.changed = edit.changed
    result.old = str(edit.previous) if edit.previous else ""
    result.new = str(edit.target)
    result.previous_tag = edit.previous.tag if edit.previous else None
    result.new_tag = edit.target.tag
    result.digest = edit.digest or None
    if chooser.pick is not None:
        result.semver = {
            "range": chooser.pick.range,
            "candidates": chooser.pick.candidates,
            "choice": chooser.pick.choice,
        }
    result.commit = landed.commit
    result.pushed = landed.pushed
    result.attempts = landed.attempts
    result.changes = edit.changes
    result.diff = "".join(edit.diffs)
    if edit.rendered is not None:
        result.render = edit.rendered.describe()
        if edit.rendered.by is not None:
            result.rendered = [asdict(image) for image in edit.rendered.images]
        if edit.rendered.warning:
            out.warn(edit.rendered.warning)
        elif not req.dry_run:  # deploy, rollback and abort show only progress lines
            out.progress(result.rendered_line())
    if edit.changes:
        result.file, result.yaml_path = edit.changes[0].file, edit.changes[0].yaml_path
    if req.record is not None:
        write_record(req.record, "bump-image", result.payload())
    return result


def checkout(
    opener: Callable[..., AbstractContextManager[Any]],
    req: BumpRequest,
    *,
    app_path: str,
    settings: Settings | None,
    **extra: Any,
) -> AbstractContextManager[Any]:
    """The checkout a bump (one app, or a set's) edits in: ``req``'s repository and branch,
    fetched first unless ``--dry-run``; a local branch ahead of its remote is allowed only
    when nothing is pushed (``--no-push``, ``--dry-run``). ``extra`` goes to ``opener`` as is
    (a set's ``also`` directories)."""
    return opener(
        req.repo,
        app_path=app_path,
        branch=req.branch,
        settings=settings,
        allow_unpushed=req.no_push or req.dry_run,
        fetch=not req.dry_run,
        **extra,
    )


@dataclass(frozen=True)
class Prepared:
    """One app's edit, ready for ``git.push.land`` to run (and re-run on a new tip)."""

    app: str
    rel: str
    apply: Callable[[int], Edit]


def prepare_edit(
    ws: Workspace,
    req: BumpRequest,
    *,
    app_arg: str,
    remote_repo: bool,
    images: ImageCheck,
    chooser: Chooser,
    write: bool,
    settings: Settings | None = None,
) -> Prepared:
    """Which files of ``app_arg`` hold the image (a chart's values files, a kustomize overlay's
    layers), and the edit on them: read now, applied by the callback."""
    base = Path(req.repo).expanduser().absolute() if not remote_repo else ws.root
    rel = relative_app(app_arg, ws.root, base)
    chart = None
    # values files (given, or the Application's) only mean something for a chart
    if is_chart(ws.root, rel) or (req.value_files and (ws.root / rel).is_dir()):
        # a chart, or a multi-source Application's values repository (no chart in it)
        ws.include(directories_outside(rel, req.value_files))
        chart = chart_values(ws.root, rel, req.value_files)
        files = chart.files
    else:
        files = yaml_files(ws.root, rel)
    layers = []
    app = app_name(rel if rel != "." else ws.root.name)
    renderer = None
    if chart is not None:
        renderer = chart_renderer(
            settings,
            rel,
            [f for f in chart.files if f not in chart.prefixes],
            app,
            skipped="" if is_chart(ws.root, rel) else "the chart is in another source",
        )
    elif kustomization_file(ws.root, rel) is not None:
        below = kustomize_layers(ws.root, rel, ws.include)
        layers = [yaml_files(ws.root, d) for d in below]
        remote = remote_resources(ws.root, [rel, *below])
        literal = not image_transformers(ws.root, [rel, *below])
        renderer = kustomize_renderer(settings, rel, below, remote=remote, literal=literal)

    def where() -> str:
        return f"{ws.remote}/{ws.branch} at {short_sha(ws.base)}"

    apply = make_edit(
        ws.root, rel, files, req, where, write=write, check=images.verify,
        pin=images.digest, choose=chooser, chart=chart, layers=layers, renderer=renderer,
    )  # fmt: skip
    return Prepared(app, rel, apply)


@dataclass
class Chooser:
    """``--semver``: the tag of an image repository, picked from the registry's tags (once per
    run: a push that lost a race re-applies the same choice)."""

    images: ImageCheck
    out: Output
    spec: str
    pick: Pick | None = None

    def __call__(self, ref: ImageRef) -> str:
        if self.pick is None:
            self.pick = pick_tag(self.images.tags(ref), self.spec, image=ref.name)
            shown = ", ".join(self.pick.candidates[:10])
            more = len(self.pick.candidates) - 10
            self.out.progress(
                f"--semver {self.spec}: {len(self.pick.candidates)} tag(s) of {ref.name} satisfy "
                f"it ({shown}{f', {more} more' if more > 0 else ''}); choosing {self.pick.choice}"
            )
        return self.pick.choice


def preload_module(module: str) -> None:
    """Import ``module`` on a thread: git's clone or fetch runs in a child process meanwhile,
    so the import (ruamel.yaml, ~50 ms) overlaps it on another core instead of adding to it."""
    if module not in sys.modules:
        threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()


def _branch_tag(tag_or_ref: str) -> str:
    """The new tag as a branch name can hold it: a digest shortened to 12 hex digits."""
    tag = new_tag(tag_or_ref)
    if DIGEST_RE.match(tag):
        return tag.split(":")[-1][:12]
    return tag or "digest"
