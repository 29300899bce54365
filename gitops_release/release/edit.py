"""The edit ``bump-image`` makes, by meaning: which files belong to the app, which image in them,
and the new value spliced in by ``yaml.edit``. Re-runnable on a new tip (``git.push.land``).

Paths never leave the repository: ``..``, absolute paths outside it and symlinks pointing out
are refused (exit 2) before anything is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from gitops_release.errors import AppPathMissing, ExpectCurrentMismatch, UsageError
from gitops_release.git.trailers import release_message
from gitops_release.images import ImageRef, is_reference, parse_image, resolve_target, version

if TYPE_CHECKING:
    from gitops_release.registry.client import Manifest

if TYPE_CHECKING:
    from gitops_release.release.chart import ChartValues
    from gitops_release.release.render import Render, Renderer

YAML_SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 8 * 2**20
"""Bigger files are generated data, not manifests to edit (etcd holds objects up to ~1.5 MiB;
the largest file of the real-world corpus is 0.2 MiB); parsing 40 MiB took a minute."""


@dataclass(frozen=True)
class BumpRequest:
    """What ``bump-image`` is asked to do (the command line's options, as given)."""

    tag_or_ref: str
    app: str
    repo: str = "."
    branch: str | None = None
    container: str | None = None
    image_name: str | None = None
    digest: str | None = None
    pin_digest: bool = False
    semver: str | None = None
    """A range (``^1.4``): the tag is the highest in the registry that satisfies it."""
    expect_current: str | None = None
    message: str | None = None
    skip_ci: bool = False
    no_push: bool = False
    merge_request: bool = False
    all_aliases: bool = False
    dry_run: bool = False
    record: Path | None = None
    value_files: tuple[str, ...] = ()
    """A Helm chart's values files, relative to the chart (``spec.source.helm.valueFiles``)."""
    value_path: str | None = None
    """Helm: the values path of the image (``image``, ``image.tag``, ``sub.image``)."""
    trailers: tuple[tuple[str, str], ...] = ()
    """Trailers after the release ones (``env promote``'s ``Promoted-From``)."""
    pin_where_read: bool = False
    """``env promote``: a digest in the target is written only where the file reads one; a Helm
    values image without a ``digest`` key gets the tag alone (``Release-Digest`` still records
    it). Without it such a file is refused, as ``--digest``/``--pin-digest`` must not be lost."""


@dataclass(frozen=True)
class FileChange:
    file: str
    yaml_path: str
    old: str
    new: str


@dataclass
class Edit:
    """One application of the edit on one tip: files written and what changed in them."""

    paths: list[str]
    changes: list[FileChange]
    diffs: list[str]
    target: ImageRef
    previous: ImageRef | None
    sha: str = ""
    digest: str = ""
    """The registry's digest of ``target`` ("" when the registry was not asked)."""
    outputs: dict[str, bytes] = field(default_factory=dict)
    """The new content of each file in ``paths`` (written already unless made with
    ``write=False``: a release set writes its apps' files only once every edit has succeeded)."""
    rendered: Render | None = None
    """What the edited chart or kustomization renders (None: not a chart or kustomization)."""

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _refuse_empty(app: str) -> None:
    # An empty --app is nearly always an unset CI variable; silently editing the whole
    # repository would be the wrong guess. The root must be asked for as ".".
    if not app.strip():
        raise UsageError(
            "--app is empty (an unset variable?)",
            hint="give the app directory, e.g. --app apps/myapp, or --app . for the repository root",
        )


def relative_app(app: str, root: Path, base: Path) -> str:
    """``app`` as a clean POSIX path relative to ``root``; anything escaping it is refused."""
    _refuse_empty(app)
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


def lexical_app(app: str) -> str:
    """For a URL: a relative path that stays inside the repository."""
    _refuse_empty(app)
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
        raise AppPathMissing(
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
        if _in_chart_templates(root, path):
            continue  # Go templates and packaged subcharts: a chart's image is in its values
        if not path.resolve().is_relative_to(real_root):
            raise UsageError(
                f"{path.relative_to(root)}: symlink to {path.resolve()}, outside the repository",
                hint="refusing to edit files outside the repository",
            )
        found.append(path.relative_to(root).as_posix())
    if not found:
        raise UsageError(f"--app {rel}: no YAML files there", hint="point --app at the app dir")
    return found


def _in_chart_templates(root: Path, path: Path) -> bool:
    parts = path.relative_to(root).parts
    for index, part in enumerate(parts[:-1]):
        if (
            part in ("templates", "charts")
            and (root.joinpath(*parts[:index]) / "Chart.yaml").is_file()
        ):
            return True
    return False


def app_name(rel: str) -> str:
    path = PurePosixPath(rel)
    if path.suffix in YAML_SUFFIXES:
        path = path.parent
    return path.name or "."


def _matches(site: Any, req: BumpRequest) -> bool:
    paths = {site.yaml_path, *(path for _, path in site.key_paths)}
    if req.value_path and req.value_path not in paths:
        return False
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
                req.value_path and f"values path {req.value_path!r}",
            )
            if f
        )
        raise UsageError(f"--app {rel}: no {what} found", hint=f"candidates: {listing}")
    chosen = _transformed_away(chosen)
    broken = [s for s in chosen if s.problem]
    if broken and (req.container or req.image_name or all(s.problem for s in chosen)):
        site = broken[0]
        raise UsageError(f"{site.file}:{site.line}: {site.problem}", hint="nothing was changed")
    chosen = [s for s in chosen if not s.problem]
    names = sorted({s.image.name for s in chosen})
    if len(names) > 1:
        raise UsageError(
            f"--app {rel}: {len(names)} image repositories ({', '.join(names)}); say which",
            hint="use --container NAME, --image-name REPO or --value-path PATH (Helm values); "
            f"candidates: {listing}",
        )
    return chosen


def _transformed_away(sites: list[Any]) -> list[Any]:
    """Without the manifests' images that a kustomize ``images:`` entry rewrites: the entry
    decides what renders (``kustomize edit set image`` edits it alone), and the manifest's
    value is only the name it matches on."""
    names = {
        _bare_name(s.field("name").value)
        for s in sites
        if s.form == "kustomize" and s.field("name") is not None
    }
    if not names:
        return sites
    return [
        s for s in sites if s.form == "kustomize" or s.image is None or s.image.name not in names
    ]


def _bare_name(reference: str) -> str:
    ref = reference.split("@", 1)[0]
    slash, colon = ref.rfind("/"), ref.rfind(":")
    return ref[:colon] if colon > slash else ref


def _workload_refs(texts: dict[str, Any]) -> list[Any]:
    from gitops_release.yaml.edit import find_workload_refs

    refs: list[Any] = []
    for rel, source in texts.items():
        refs += find_workload_refs(source.text, source=rel)
    return refs


def _expect(expected: str, current: ImageRef) -> bool:
    if is_reference(expected):
        return str(current) == expected or str(current.with_tag(current.tag or "")) == expected
    return current.tag == expected


def may_hold_images(text: str) -> bool:
    """False when ``text`` cannot hold an image site, so it need not be parsed (an app directory
    is mostly Services, IngressRoutes and ConfigMaps; parsing is the slow part of a bump).

    Every site ``yaml.edit.find_images`` reports needs one of these words: an ``image``/``images``
    key (or a key ending in ``image``), a ``*containers`` list, or a ``tag`` next to a
    ``repository``/``hub`` (Helm values). tests/test_bump_files.py checks it on the corpus."""
    low = text.lower()
    return (
        "image" in low
        or "containers" in low
        or ("tag" in low and ("repository" in low or "hub" in low))
    )


def make_edit(
    root: Path,
    app_dir: str,
    files: list[str],
    req: BumpRequest,
    where: Callable[[], str],
    write: bool,
    check: Callable[[ImageRef], Manifest | None] | None = None,
    pin: Callable[[ImageRef], str] | None = None,
    choose: Callable[[ImageRef], str] | None = None,
    chart: ChartValues | None = None,
    layers: Sequence[list[str]] = (),
    renderer: Renderer | None = None,
) -> Callable[[int], Edit]:
    """The edit, by meaning, as a callback ``git.push.land`` can re-run on a new tip.

    ``check`` asks the registry whether the target exists (its manifest, or None when not
    asked); ``pin`` resolves a tag to its digest (``--pin-digest``); ``choose`` picks the tag of
    an image repository (``--semver``). With ``chart`` (a Helm chart), ``files`` are its values
    files in Helm's order. ``layers`` are the files of the kustomizations an overlay builds on,
    nearest first: when ``files`` hold no image the request matches, the first layer that does
    is edited. ``renderer`` renders the edited files before any is written (and refuses when
    the render disagrees with the target)."""
    from gitops_release.release.chart import (
        deciding_sites,
        refuse_packaged,
        under_prefixes,
        with_template_repositories,
    )
    from gitops_release.yaml.edit import apply_image, find_images, unified_diff
    from gitops_release.yaml.read import read_text

    def gather(names: list[str]) -> tuple[dict[str, Any], list[Any]]:
        texts: dict[str, Any] = {}
        sites: list[Any] = []
        for rel in names:
            if chart is not None and rel in chart.packaged:
                source = read_text(chart.packaged[rel], source=rel)  # read, never written
                texts[rel] = source
                sites += find_images(source.text, source=rel)
                continue
            size = (root / rel).stat().st_size
            if size > MAX_FILE_BYTES:
                raise UsageError(
                    f"{rel}: {size // 2**20} MiB is too large to edit safely "
                    f"(limit {MAX_FILE_BYTES // 2**20} MiB)",
                    hint="point --app at the file that holds the image, or split the file",
                )
            source = read_text((root / rel).read_bytes(), source=rel)
            texts[rel] = source
            if may_hold_images(source.text):
                sites += find_images(source.text, source=rel)
        return texts, sites

    def wanted(sites: list[Any]) -> bool:
        return any((s.image is not None or s.problem) and _matches(s, req) for s in sites)

    def apply(_attempt: int) -> Edit:
        files_now = files
        texts, sites = gather(files)
        for layer in layers if not wanted(sites) else ():
            layer_texts, layer_sites = gather(layer)
            if wanted(layer_sites):
                files_now, texts, sites = layer, layer_texts, layer_sites
                break
        if chart is not None:
            sites = deciding_sites(under_prefixes(sites, chart.prefixes), files)
            sites = with_template_repositories(root, chart.chart, sites)
            _check_chart(root, chart.chart, files, sites)
        refs = [] if sites or chart else _workload_refs(texts)
        chosen = _select(sites, req, app_dir, refs)
        if chart is not None:
            refuse_packaged(chart, chosen, files)
        previous = chosen[0].image
        tag_or_ref = req.tag_or_ref
        if req.semver and choose is not None:
            base = parse_image(tag_or_ref, what="new image") if tag_or_ref else previous
            tag_or_ref = str(base.with_tag(choose(base), req.digest))
        target = resolve_target(previous, tag_or_ref, req.digest)
        known = check(target) if check is not None else None  # before anything is written
        if req.pin_digest and not target.digest and pin is not None:
            target = target.with_tag(target.tag or "", pin(target))
        recorded = target.digest or ""
        if req.pin_where_read and target.digest and any(_no_digest_read(s) for s in chosen):
            target = target.with_tag(target.tag or "", None)
        if req.expect_current:
            for site in chosen:
                # already at the target: a re-run of a landed compare-and-swap changes nothing
                if not _expect(req.expect_current, site.image) and site.image != target:
                    raise ExpectCurrentMismatch(
                        req.expect_current,
                        f"{site.file}:{site.line} {site.yaml_path} is {site.current} on {where()}",
                    )
        edit = Edit([], [], [], target, previous, digest=recorded)
        if known is not None and not edit.digest:
            edit.digest = known.digest
        new: dict[str, bytes] = {}
        for rel in files_now:
            mine = [s for s in chosen if s.file == rel]
            if not mine:
                continue
            result = apply_image(
                texts[rel].text, mine, target, source=rel, all_aliases=req.all_aliases
            )
            if not result.changed:
                continue
            edit.paths.append(rel)
            edit.diffs.append(unified_diff(texts[rel].text, result.text, rel))
            for change in result.changes:
                path = change.edits[0].path if len(change.edits) == 1 else change.site.yaml_path
                edit.changes.append(FileChange(rel, path, change.old, change.new))
            new[rel] = texts[rel].encode(result.text)
        if renderer is not None and new:
            edit.rendered = renderer.render(root, new, target, previous)
        edit.outputs.update(new)
        for rel, data in new.items() if write else ():
            (root / rel).write_bytes(data)
        return edit

    return apply


def _no_digest_read(site: Any) -> bool:
    """A Helm values image split in keys, none of them ``digest``: no template reads one."""
    return bool(site.form == "split" and site.field("digest") is None)


def _check_chart(root: Path, chart: str, files: list[str], sites: list[Any]) -> None:
    """A chart whose values set no image: say where the image is (or is not) written."""
    from gitops_release.release.chart import hard_coded_images

    if any(s.image is not None or s.problem for s in sites):
        return
    hard = hard_coded_images(root, chart)
    if not (root / chart / "Chart.yaml").is_file():
        raise UsageError(
            f"no image set in the values files {', '.join(files)}",
            hint="set the image (e.g. image.repository and image.tag) in the values file the "
            "Application lists last",
        )
    written = [h for h in hard if not h.tag_from]
    if written:
        raise UsageError(
            f"chart {chart}: the image is hard-coded in its templates "
            f"({'; '.join(h.describe() for h in written[:4])}), not read from {', '.join(files)}",
            hint="move it into the values (image.repository, image.tag) and have the template "
            "read .Values.image; nothing was changed",
        )
    if hard:
        h = hard[0]
        where = f"chart {chart}: {h.file}:{h.line} writes the repository {h.repository}"
        assert h.tag_from is not None
        if "." not in h.tag_from:
            raise UsageError(
                f"{where} and reads the tag from .Values.{h.tag_from}, a top-level value that "
                "names no image",
                hint="read the tag from an image mapping (.Values.image.tag, values "
                "image: {tag: ...}) or move the whole image into the values; nothing was changed",
            )
        raise UsageError(
            f"{where} and reads the tag from .Values.{h.tag_from}, which {', '.join(files)} "
            "does not set",
            hint=f"set {h.tag_from} in the values file, then bump again; nothing was changed",
        )
    raise UsageError(
        f"chart {chart}: no image set in its values files ({', '.join(files)})",
        hint="set the image in the values file the chart reads (e.g. image.repository and "
        "image.tag), or list the values file that sets it in spec.source.helm.valueFiles",
    )


def commit_message(req: BumpRequest, app: str, path: str, edit: Edit) -> str:
    previous, target = edit.previous, edit.target
    old = version(previous) if previous else "?"
    new = version(target)
    subject = req.message or f"release({app}): {target.name} {old} -> {new}"
    if req.skip_ci and "[skip ci]" not in subject:
        subject += " [skip ci]"
    return release_message(
        subject,
        app=app,
        path=path,
        image=str(target),
        previous=str(previous or ""),
        digest=edit.digest,
        extra=req.trailers,
    )
