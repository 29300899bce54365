"""Orchestration: ``bump-image`` (and, later, deploy, abort and rollback) on top of the domain modules.

``bump_image`` picks the image by meaning (one repository in the app, or ``--container`` /
``--image-name``), edits it byte-exactly with ``yamledit``, and lands the commit with
``gitpush.land``: on a lost race the same edit is re-applied on the new remote tip, so
"already at that tag" and ``--expect-current`` are always judged against the remote tip.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from gitops_release.config import Settings
from gitops_release.errors import NotLanded, UsageError
from gitops_release.images import ImageRef, is_reference, parse_image, resolve_target, validate_tag
from gitops_release.output import Output, redact

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class BumpRequest:
    tag_or_ref: str
    app: str
    repo: str = "."
    branch: str | None = None
    container: str | None = None
    image_name: str | None = None
    digest: str | None = None
    expect_current: str | None = None
    message: str | None = None
    skip_ci: bool = False
    no_push: bool = False
    merge_request: bool = False
    all_aliases: bool = False
    dry_run: bool = False
    record: Path | None = None


@dataclass(frozen=True)
class FileChange:
    file: str
    yaml_path: str
    old: str
    new: str


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
    merge_request_branch: str | None = None
    dry_run: bool = False
    changes: list[FileChange] = field(default_factory=list)
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
            return self.diff.rstrip("\n")
        lines = [f"{c.file}: {c.yaml_path}: {c.old} -> {c.new}" for c in self.changes]
        where = f"{self.branch} on {self.repo}"
        if self.merge_request_branch:
            lines.append(
                f"committed {self.commit:.8} and pushed {self.merge_request_branch} "
                f"(merge request into {where})"
            )
        elif self.pushed:
            lines.append(f"committed {self.commit:.8} and pushed to {where}")
        else:
            lines.append(f"committed {self.commit:.8} on {self.branch} (not pushed: --no-push)")
        return "\n".join(lines)


@dataclass
class _Edit:
    """One application of the edit on one tip: files written and what changed in them."""

    paths: list[str]
    changes: list[FileChange]
    diffs: list[str]
    target: ImageRef
    previous: ImageRef | None
    sha: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _check_request(req: BumpRequest, remote_repo: bool) -> None:
    if is_reference(req.tag_or_ref):
        parse_image(req.tag_or_ref, what="new image")
    else:
        validate_tag(req.tag_or_ref, what="new tag")
    if req.expect_current and not is_reference(req.expect_current):
        validate_tag(req.expect_current, what="--expect-current")
    if req.no_push and req.merge_request:
        raise UsageError("--no-push and --merge-request contradict each other")
    if req.no_push and remote_repo:
        raise UsageError(
            "--no-push with a repository URL would throw the commit away with the temporary clone",
            hint="use --dry-run to see the change, or --repo with a local checkout",
        )


def _relative_app(app: str, root: Path, base: Path) -> str:
    """``app`` as a clean POSIX path relative to ``root``; anything escaping it is refused."""
    raw = Path(app).expanduser()
    joined = raw if raw.is_absolute() else base / raw
    try:
        rel = Path(os.path.normpath(joined)).relative_to(os.path.normpath(root))
    except ValueError:
        raise UsageError(
            f"--app {app}: outside the repository {root}",
            hint="give a path inside the GitOps repository",
        ) from None
    resolved = (root / rel).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise UsageError(
            f"--app {app}: resolves (through a symlink) to {resolved}, outside the repository",
            hint="give a path inside the GitOps repository",
        )
    return rel.as_posix() if rel.parts else "."


def _lexical_app(app: str) -> str:
    """For a URL: a relative path that stays inside the repository."""
    pure = PurePosixPath(app)
    norm = os.path.normpath(app) if app else "."
    if pure.is_absolute() or norm == ".." or norm.startswith("../"):
        raise UsageError(
            f"--app {app}: must be a relative path inside the repository",
            hint="e.g. --app apps/myapp",
        )
    return PurePosixPath(norm).as_posix()


def yaml_files(root: Path, rel: str) -> list[str]:
    """YAML files of the app (a file or a directory, recursively), relative to ``root``."""
    real_root = root.resolve()
    start = root / rel
    if not start.exists():
        raise UsageError(
            f"--app {rel}: no such file or directory in the repository",
            hint="check the path (relative to the repository root) and --branch",
        )
    candidates = [start] if start.is_file() else sorted(start.rglob("*"))
    found: list[str] = []
    for path in candidates:
        if path.suffix not in YAML_SUFFIXES or not (path.is_file() or path.is_symlink()):
            continue
        if any(part.startswith(".") for part in path.relative_to(root).parts[:-1]):
            continue
        if not path.resolve().is_relative_to(real_root):
            raise UsageError(
                f"{path.relative_to(root)}: symlink to {path.resolve()}, outside the repository",
                hint="refusing to edit files outside the repository",
            )
        found.append(path.relative_to(root).as_posix())
    if not found:
        raise UsageError(f"--app {rel}: no YAML files there", hint="point --app at the app dir")
    return found


def _app_name(rel: str) -> str:
    path = PurePosixPath(rel)
    if path.suffix in YAML_SUFFIXES:
        path = path.parent
    return path.name or "."


def _matches(site: Any, req: BumpRequest) -> bool:
    if req.container and site.container != req.container:
        return False
    if req.image_name:
        ref = site.image
        names = set(site.names) | ({ref.repository} if ref is not None else set())
        return req.image_name in names
    return True


def _select(
    all_sites: list[Any], req: BumpRequest, rel: str, workload_refs: Sequence[Any] = ()
) -> list[Any]:
    """The sites to edit; refuses (listing candidates) when the choice is not unique."""
    candidates = [s for s in all_sites if s.image is not None or s.problem]
    listing = "; ".join(s.describe() for s in candidates[:12])
    if not candidates:
        hint = None
        if workload_refs:
            ref = workload_refs[0]
            hint = (
                f"the Rollout {ref.rollout or ''} in {ref.file} takes its pod template from "
                f"{ref.kind} {ref.name} (workloadRef): point --app at the directory holding it"
            )
        raise UsageError(f"--app {rel}: no container image found in its YAML files", hint=hint)
    chosen = [s for s in candidates if _matches(s, req)]
    if not chosen:
        what = " and ".join(
            f
            for f in (
                req.container and f"container {req.container!r}",
                req.image_name and f"image {req.image_name!r}",
            )
            if f
        )
        raise UsageError(f"--app {rel}: no {what} found", hint=f"candidates: {listing}")
    broken = [s for s in chosen if s.problem]
    if broken and (req.container or req.image_name or all(s.problem for s in chosen)):
        site = broken[0]
        raise UsageError(f"{site.file}:{site.line}: {site.problem}", hint="nothing was changed")
    chosen = [s for s in chosen if not s.problem]
    names = sorted({s.image.name for s in chosen})
    if len(names) > 1:
        raise UsageError(
            f"--app {rel}: {len(names)} image repositories ({', '.join(names)}); say which",
            hint=f"use --container NAME or --image-name REPO; candidates: {listing}",
        )
    return chosen


def _workload_refs(yamledit: Any, texts: dict[str, Any]) -> list[Any]:
    refs: list[Any] = []
    for rel, source in texts.items():
        refs += yamledit.find_workload_refs(source.text, source=rel)
    return refs


def _expect(expected: str, current: ImageRef) -> bool:
    if is_reference(expected):
        return str(current) == expected or str(current.with_tag(current.tag or "")) == expected
    return current.tag == expected


def make_edit(
    root: Path,
    app_dir: str,
    files: list[str],
    req: BumpRequest,
    where: Callable[[], str],
    write: bool,
) -> Callable[[int], _Edit]:
    """The edit, by meaning, as a callback ``gitpush.land`` can re-run on a new tip."""
    from gitops_release import yamledit

    def apply(_attempt: int) -> _Edit:
        texts: dict[str, Any] = {}
        sites: list[Any] = []
        for rel in files:
            source = yamledit.read_text((root / rel).read_bytes(), source=rel)
            texts[rel] = source
            sites += yamledit.find_images(source.text, source=rel)
        refs = [] if sites else _workload_refs(yamledit, texts)
        chosen = _select(sites, req, app_dir, refs)
        previous = chosen[0].image
        if req.expect_current:
            for site in chosen:
                if not _expect(req.expect_current, site.image):
                    raise NotLanded(
                        f"--expect-current {req.expect_current}, but {site.file}:{site.line} "
                        f"{site.yaml_path} is {site.current} on {where()}",
                        hint="someone else released in between; check, then run again",
                    )
        target = resolve_target(previous, req.tag_or_ref, req.digest)
        edit = _Edit([], [], [], target, previous)
        for rel in files:
            mine = [s for s in chosen if s.file == rel]
            if not mine:
                continue
            result = yamledit.apply_image(
                texts[rel].text, mine, target, source=rel, all_aliases=req.all_aliases
            )
            if not result.changed:
                continue
            edit.paths.append(rel)
            edit.diffs.append(yamledit.unified_diff(texts[rel].text, result.text, rel))
            for change in result.changes:
                path = change.edits[0].path if len(change.edits) == 1 else change.site.yaml_path
                edit.changes.append(FileChange(rel, path, change.old, change.new))
            if write:
                (root / rel).write_bytes(texts[rel].encode(result.text))
        return edit

    return apply


def commit_message(req: BumpRequest, app: str, path: str, edit: _Edit) -> str:
    previous, target = edit.previous, edit.target
    old = _short(previous) if previous else "?"
    new = _short(target)
    subject = req.message or f"release({app}): {target.name} {old} -> {new}"
    if req.skip_ci and "[skip ci]" not in subject:
        subject += " [skip ci]"
    trailers = [f"Release-App: {app}", f"Release-Path: {path}", f"Release-Image: {target}"]
    if previous:
        trailers.append(f"Release-Previous: {previous}")
    return subject + "\n\n" + "\n".join(trailers) + "\n"


def _short(ref: ImageRef) -> str:
    text = ref.tag or ""
    if ref.digest:
        text += f"@{ref.digest[:19]}"
    return text or "latest"


def bump_image(
    req: BumpRequest,
    *,
    settings: Settings | None = None,
    out: Output | None = None,
    open_workspace: Callable[..., AbstractContextManager[Any]] | None = None,
    policy: Any = None,
) -> BumpResult:
    """Change the image of ``req.app`` to ``req.tag_or_ref`` in Git, commit and push."""
    from gitops_release import gitpush, gitrepo

    out = out or Output()
    _preload("gitops_release.yamledit")
    opener = open_workspace or gitrepo.open_workspace
    remote_repo = gitrepo.is_url(req.repo)
    _check_request(req, remote_repo)
    app_arg = _lexical_app(req.app) if remote_repo else req.app
    if remote_repo:
        out.progress(f"cloning {gitrepo.strip_credentials(req.repo)} (partial, sparse: {app_arg})")
    with opener(
        req.repo,
        app_path=app_arg,
        branch=req.branch,
        settings=settings,
        allow_unpushed=req.no_push or req.dry_run,
        fetch=not req.dry_run,
    ) as ws:
        base = Path(req.repo).expanduser().absolute() if not remote_repo else ws.root
        rel = _relative_app(app_arg, ws.root, base)
        files = yaml_files(ws.root, rel)
        app = _app_name(rel if rel != "." else ws.root.name)
        where = lambda: f"{ws.remote}/{ws.branch} at {ws.base[:8]}"  # noqa: E731
        apply = make_edit(ws.root, rel, files, req, where, write=not req.dry_run)
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
            landed = gitpush.Landed(None, False, 0, ws.branch)
        else:
            mr = None
            if req.merge_request:
                tag = _new_tag(req)
                mr = gitpush.MergeRequest(
                    source=f"gitops-release/{app}-{tag}-{ws.base[:8]}",
                    title=f"release({app}): {req.tag_or_ref}",
                )
            edit, landed = gitpush.land(
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
    result.commit = landed.commit
    result.pushed = landed.pushed
    result.attempts = landed.attempts
    result.changes = edit.changes
    result.diff = "".join(edit.diffs)
    if edit.changes:
        result.file, result.yaml_path = edit.changes[0].file, edit.changes[0].yaml_path
    if req.record is not None:
        write_record(req.record, "bump-image", result.payload())
    return result


def _preload(module: str) -> None:
    """Import ``module`` on a thread: git's clone or fetch runs in a child process meanwhile,
    so the import (ruamel.yaml, ~50 ms) overlaps it on another core instead of adding to it."""
    if module not in sys.modules:
        threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()


def write_record(path: Path, kind: str, payload: dict[str, Any]) -> None:
    """The JSON release record (``--record FILE``), written atomically, secrets redacted."""
    record = {"kind": kind, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **payload}
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(redact(json.dumps(record, indent=2)) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        raise UsageError(f"--record {path}: cannot write: {err.strerror}") from None


def _new_tag(req: BumpRequest) -> str:
    if not is_reference(req.tag_or_ref):
        return req.tag_or_ref
    ref = parse_image(req.tag_or_ref, what="new image")
    return ref.tag or (ref.digest or "digest").split(":")[-1][:12]
