"""What a chart or a kustomization will actually deploy after a bump, by rendering it with the
real tools, as Argo CD's repo-server would: ``helm template`` with the chart's values files in
Helm's order, ``kubectl kustomize`` on the overlay. The one place the client runs a program
(git aside, which GitPython runs).

The edited files are rendered from a temporary copy (the app's directories, with the new text
of the edited files), so a dry run or a refused bump leaves the checkout untouched. Which
binaries: the ``helm`` / ``kubectl`` settings (``GITOPS_RELEASE_HELM``...), else
``tools/bin`` of this Python's prefix (where ``./dev`` installs the pinned builds), else PATH.
No binary, or a chart that cannot render here (dependencies not vendored, a remote base):
the result says "not rendered (...)" and the bump goes on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_release.config import Settings
from gitops_release.errors import UsageError
from gitops_release.images import ImageRef, parse_image

TIMEOUT = 60.0
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class RenderedImage:
    workload: str
    """``Kind/name`` of the rendered object holding the container."""
    container: str
    image: str

    def describe(self) -> str:
        return f"{self.workload} {self.container} {self.image}"


@dataclass(frozen=True)
class Render:
    """How the edited app was rendered (``by``, e.g. ``helm template``), or why not (``skipped``),
    and the containers it renders with the edited image's repository."""

    by: str | None
    images: tuple[RenderedImage, ...] = ()
    skipped: str = ""
    warning: str = ""
    """The render runs no container with the edited image's repository (a disabled part of
    the chart, or a template that does not read the value): said, not refused."""

    def describe(self) -> str:
        if self.by is None:
            return f"not rendered ({self.skipped})"
        return self.by


@dataclass(frozen=True)
class Renderer:
    """Renders one app: ``command`` runs in a copy of ``directories`` (relative to the
    repository root) with ``{root}`` replaced by that copy."""

    by: str
    tool: str | None
    tool_name: str
    directories: tuple[str, ...]
    args: tuple[str, ...]
    extra_files: tuple[str, ...] = field(default=())
    """Files outside ``directories`` the render reads (values files beside the chart)."""
    skipped: str = ""
    """Why this app cannot be rendered here at all (e.g. its chart is in another source)."""

    def render(
        self, root: Path, edited: Mapping[str, bytes], target: ImageRef, previous: ImageRef | None
    ) -> Render:
        """Render before and after the edit (``edited``: file -> new bytes); the containers
        whose image the edit changed must now run ``target``, else refuse (exit 2, naming the
        file). An edit that changes no container is refused when a container still runs the
        image's repository (the template ignores the value), and warned about when none does
        (a part of the chart that is switched off)."""
        if self.skipped:
            return Render(None, skipped=self.skipped)
        if self.tool is None:
            return Render(None, skipped=f"{self.tool_name} not found")
        before, after = self._containers(root, {}), self._containers(root, edited)
        if isinstance(before, str) or isinstance(after, str):
            return Render(None, skipped=str(before if isinstance(before, str) else after))
        files = ", ".join(sorted(edited))
        old = {(i.workload, i.container): i.image for i in before}
        changed = tuple(i for i in after if old.get((i.workload, i.container)) != i.image)
        if changed:
            _check(self.by, changed, target, files)
            return Render(self.by, changed)
        names = [r for r in (previous, target) if r is not None]
        same = tuple(i for i in after if any(_same_name(i.image, r) for r in names))
        if same:
            _check(self.by, same, target, files)
            return Render(self.by, same)
        others = "; ".join(f"{i.image} ({i.workload} {i.container})" for i in after[:4])
        warning = f"{files}: {self.by} renders no container with " + (
            f"{target.name} (it renders {others})" if others else target.name
        )
        return Render(self.by, (), warning=warning)

    def _containers(self, root: Path, edited: Mapping[str, bytes]) -> list[RenderedImage] | str:
        """The containers the app renders to with ``edited`` in place, or why it did not."""
        assert self.tool is not None
        with tempfile.TemporaryDirectory(prefix="gitops-release-render-") as tmp:
            copy = Path(tmp) / "repo"
            copy.mkdir()
            for directory in self.directories:
                shutil.copytree(
                    root / directory,
                    copy / directory,
                    symlinks=True,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".git"),
                )
            for name in self.extra_files:
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / name, copy / name)
            for name, data in edited.items():
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                (copy / name).write_bytes(data)
            args = [a.replace("{root}", str(copy)) for a in self.args]
            ok, text = _run([self.tool, *args])
        if not ok:
            return f"{self.by} failed: {text}"
        from gitops_release.yaml.read import YamlError, load_all

        try:
            objects = load_all(text, source=f"{self.by} output")
        except YamlError as err:
            return f"{self.by} output unreadable: {err.message}"
        return list(_containers(objects))


def find_tool(name: str, settings: Settings | None) -> str | None:
    named = str(settings.get(name) or "") if settings is not None else ""
    if named:
        return shutil.which(named)
    local = Path(sys.prefix) / "tools" / "bin" / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)


def chart_renderer(
    settings: Settings | None,
    chart: str,
    values_files: Sequence[str],
    release: str,
    *,
    skipped: str = "",
) -> Renderer:
    """``helm template RELEASE CHART -f VALUES...`` (values files relative to the repository)."""
    args = ["template", release, f"{{root}}/{chart}"]
    for name in values_files:
        args += ["-f", f"{{root}}/{name}"]
    outside = [f for f in values_files if not f.startswith(chart.rstrip("/") + "/")]
    return Renderer(
        "helm template",
        find_tool("helm", settings),
        "helm",
        (chart,),
        tuple(args),
        tuple(outside),
        skipped,
    )


def kustomize_renderer(
    settings: Settings | None,
    overlay: str,
    layers: Sequence[str],
    *,
    remote: Sequence[str] = (),
    literal: bool = False,
) -> Renderer:
    """``kubectl kustomize OVERLAY``, with the layers it builds on copied beside it; not run
    when a layer builds on ``remote`` resources (kustomize would fetch them), nor when no layer
    can change an image (``literal``: only resources, labels, names, generators; see
    :data:`release.kustomize.LITERAL_FIELDS`), where the files' image is what renders."""
    if literal and not remote:
        return Renderer(
            "kubectl kustomize", None, "kubectl", (overlay, *layers), (),
            skipped="not needed: no layer transforms images, the files' image is what renders",
        )  # fmt: skip
    return Renderer(
        "kubectl kustomize",
        find_tool("kubectl", settings),
        "kubectl",
        (overlay, *layers),
        ("kustomize", f"{{root}}/{overlay}"),
        skipped=f"remote resource {remote[0]}" if remote else "",
    )


_DROP_PREFIXES = ("GITOPS_RELEASE_", "ARGOCD_", "GIT_CONFIG_", "CI_")
_DROP_WORDS = ("TOKEN", "PASSWORD", "SECRET", "CREDENTIAL", "AUTH")


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without our settings and anything that looks like a credential: helm and
    kubectl render files here and need none of them."""
    return {
        name: value
        for name, value in environ.items()
        if not name.upper().startswith(_DROP_PREFIXES)
        and not any(word in name.upper() for word in _DROP_WORDS)
    }


def _run(command: list[str]) -> tuple[bool, str]:
    """(True, the tool's stdout), or (False, the last line of its complaint)."""
    try:
        done = subprocess.run(
            command,
            env=child_environment(os.environ),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return False, f"no answer in {TIMEOUT:.0f} s"
    except OSError as err:
        return False, str(err)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return False, lines[-1] if lines else f"exit {done.returncode}"
    return True, done.stdout


def _containers(objects: list[Any]) -> Iterator[RenderedImage]:
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        workload = f"{obj.get('kind')}/{(meta or {}).get('name')}"
        yield from _walk(obj.get("spec"), workload)


def _walk(node: Any, workload: str) -> Iterator[RenderedImage]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _CONTAINER_LISTS and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and isinstance(item.get("image"), str):
                        yield RenderedImage(workload, str(item.get("name", "")), item["image"])
            else:
                yield from _walk(value, workload)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, workload)


def _ref(image: str) -> ImageRef | None:
    try:
        return parse_image(image, what=None)
    except UsageError:
        return None


def _bare(ref: ImageRef) -> str:
    return ref.name.removeprefix("docker.io/").removeprefix("library/")


def _same_name(image: str, want: ImageRef) -> bool:
    ref = _ref(image)
    return ref is not None and _bare(ref) == _bare(want)


def _agrees(image: str, target: ImageRef) -> bool:
    """The rendered image runs ``target``: same digest when one is meant (the tag then only
    has to match when one is meant), else the same tag."""
    ref = _ref(image)
    if ref is None or _bare(ref) != _bare(target) or ref.digest != target.digest:
        return False
    return not target.tag or ref.tag == target.tag


def _check(by: str, images: Sequence[RenderedImage], target: ImageRef, files: str) -> None:
    wrong = [i for i in images if not _agrees(i.image, target)]
    if not wrong:
        return
    shown = "; ".join(f"{i.image} ({i.workload} {i.container})" for i in wrong[:4])
    raise UsageError(
        f"{files}: after the edit, {by} renders {shown}, not {target}",
        hint="the chart or kustomization does not read the value as written: change the "
        "template (or the value the edit should go to, --value-path); nothing was written",
    )
