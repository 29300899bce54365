"""A Helm chart as ``bump-image`` sees it: a directory with ``Chart.yaml`` whose image lives in
values files, never in ``templates/`` (Go templates, not YAML) nor ``charts/*.tgz``.

Which values files: the Application's ``spec.source.helm.valueFiles`` in order (Argo CD passes
them to ``helm template -f`` in that order, so the last file that sets a value wins), else the
chart's ``values.yaml``. Paths are relative to the chart directory and may not leave the
repository.
"""

from __future__ import annotations

import os
import re
import tarfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from gitops_release.errors import UsageError

TEMPLATE_SUFFIXES = (".yaml", ".yml", ".tpl")
# an ``image:`` key: a block mapping's (``image:``, ``- image:``) or a flow mapping's (``{image:``,
# ``, image:``)
_IMAGE_KEY = re.compile(r"(?:^[ \t]*(?:-[ \t]+)?|[{,][ \t]*)image:[ \t]*")
_VALUES_PATH = re.compile(r"^\{\{-?\s*\.Values\.([A-Za-z0-9_.]+)\s*-?\}\}$")


def is_chart(root: Path, rel: str) -> bool:
    return (root / rel / "Chart.yaml").is_file()


def values_files(root: Path, chart: str, value_files: tuple[str, ...] = ()) -> list[str]:
    """The chart's values files, relative to ``root``, in the order Helm reads them."""
    names = value_files or ("values.yaml",)
    found: list[str] = []
    for name in names:
        if "://" in name or name.startswith("$"):
            raise UsageError(
                f"chart {chart}: values file {name} is not in this repository",
                hint="a values file from another source cannot be bumped here; "
                "pass --repo and --app to the repository holding it",
            )
        joined = os.path.normpath(PurePosixPath(chart, name).as_posix())
        path = root / joined
        if joined.startswith("..") or not path.resolve().is_relative_to(root.resolve()):
            raise UsageError(
                f"chart {chart}: values file {name} is outside the repository",
                hint="list values files inside the GitOps repository",
            )
        if not path.is_file():
            raise UsageError(
                f"chart {chart}: values file {joined} does not exist",
                hint="check spec.source.helm.valueFiles in the Application (or add the file)",
            )
        found.append(Path(joined).as_posix())
    return found


def directories_outside(chart: str, value_files: tuple[str, ...]) -> list[str]:
    """Directories of values files that lie outside ``chart`` (a sparse clone needs them)."""
    found: list[str] = []
    for name in value_files:
        if "://" in name or name.startswith("$"):
            continue
        joined = os.path.normpath(PurePosixPath(chart, name).as_posix())
        parent = os.path.dirname(joined)
        if joined.startswith("..") or parent in ("", "."):
            continue
        if not (parent + "/").startswith(chart.rstrip("/") + "/") and parent not in found:
            found.append(parent)
    return found


@dataclass(frozen=True)
class HardCoded:
    """An ``image:`` in ``templates/`` not (wholly) read from values: the reference written out
    (``image``), or a repository written out whose tag is read from ``.Values.<tag_from>``."""

    file: str
    line: int
    image: str
    tag_from: str | None = None

    def describe(self) -> str:
        return f"{self.file}:{self.line} image: {self.image}"

    @property
    def repository(self) -> str:
        return self.image.split(":{{", 1)[0] if self.tag_from else self.image


def hard_coded_images(root: Path, chart: str) -> list[HardCoded]:
    """``image:`` values in ``templates/`` written out instead of read from values (in any
    block or flow form, quoted or not), and repositories written out before a templated tag."""
    found: list[HardCoded] = []
    templates = root / chart / "templates"
    if not templates.is_dir():
        return found
    for path in sorted(templates.rglob("*")):
        if path.suffix not in TEMPLATE_SUFFIXES or not path.is_file():
            continue
        text = path.read_text("utf-8", errors="replace")
        rel = path.relative_to(root).as_posix()
        for number, line in enumerate(text.splitlines(), 1):
            for key in _IMAGE_KEY.finditer(line):
                flow = key.group(0).lstrip()[:1] in "{,"
                hard = _hard_coded(_value(line[key.end() :], flow))
                if hard is not None:
                    found.append(HardCoded(rel, number, *hard))
    return found


def _value(rest: str, flow: bool) -> str:
    """The scalar after ``image:``: quoted, or plain up to a comment (and in a flow mapping up
    to ``,`` or ``}``), Go template actions (``{{ ... }}``) kept whole."""
    if rest[:1] in ("'", '"'):
        end = rest.find(rest[0], 1)
        return rest[1:end] if end > 0 else ""
    out, index, depth = [], 0, 0
    while index < len(rest):
        pair = rest[index : index + 2]
        if pair in ("{{", "}}"):
            depth += 1 if pair == "{{" else -1
            out.append(pair)
            index += 2
            continue
        char = rest[index]
        if depth <= 0 and (
            (char == "#" and (not out or out[-1][-1:].isspace())) or (flow and char in ",}")
        ):
            break
        out.append(char)
        index += 1
    return "".join(out).strip()


def _hard_coded(value: str) -> tuple[str, str | None] | None:
    """(image, values path of its tag) for a value written out, None for one from values."""
    if not value or value.startswith("{{"):
        return None  # read from values (or built by a helper that reads them)
    if "{{" not in value:
        return value, None
    head, _, action = value.partition("{{")
    path = _VALUES_PATH.match("{{" + action)
    if head.endswith(":") and "/" not in head[:-1].rpartition(":")[2] and path:
        return value, path[1]
    return None  # a repository built from values too (registry/{{ .Values.name }}:...)


def tag_repositories(root: Path, chart: str) -> dict[str, HardCoded]:
    """Values paths of tags whose repository a template writes out (``image.tag`` -> ``nginx``)."""
    return {h.tag_from: h for h in hard_coded_images(root, chart) if h.tag_from}


def with_template_repositories(root: Path, chart: str, sites: list[Any]) -> list[Any]:
    """A values mapping with only a tag (``image: {tag: 1.25}``) whose repository a template
    writes out (``image: "nginx:{{ .Values.image.tag }}"``) is that image: ``nginx:1.25``."""
    partial = [
        s
        for s in sites
        if s.image is None and not s.problem and s.form == "split" and s.field("tag") is not None
    ]
    if not partial:
        return sites
    known = tag_repositories(root, chart)
    out = []
    for site in sites:
        hard = known.get(site.path_of("tag")) if site in partial else None
        if hard is not None:
            site = replace(site, current=f"{hard.repository}:{site.field('tag').value}")
        out.append(site)
    return out


@dataclass(frozen=True)
class ChartValues:
    """The values files of a chart, lowest precedence first: its subcharts' own defaults
    (``charts/NAME/values.yaml``, read under the key ``NAME``), then the chart's files."""

    chart: str
    files: list[str]
    prefixes: dict[str, str]
    packaged: dict[str, bytes] = field(default_factory=dict)
    """Defaults read from packaged subcharts (``charts/NAME-1.0.0.tgz/NAME/values.yaml`` ->
    its bytes): read to find an image by meaning, never written."""


def chart_values(root: Path, chart: str, value_files: tuple[str, ...] = ()) -> ChartValues:
    prefixes: dict[str, str] = {}
    packaged: dict[str, bytes] = {}
    charts = root / chart / "charts"
    # a values repository without Chart.yaml has no subcharts (its charts/ is something else)
    subcharts = sorted(charts.iterdir()) if is_chart(root, chart) and charts.is_dir() else []
    for sub in subcharts:
        if sub.suffix == ".tgz" and sub.is_file():
            found = _packaged_values(sub)
            if found is not None:
                name, top, data = found
                virtual = f"{sub.relative_to(root).as_posix()}/{top}/values.yaml"
                prefixes[virtual], packaged[virtual] = name, data
            continue
        values, meta = sub / "values.yaml", sub / "Chart.yaml"
        if not (values.is_file() and meta.is_file()):
            continue
        named = _chart_name(meta.read_bytes(), str(meta))
        prefixes[values.relative_to(root).as_posix()] = named or sub.name
    files = [*prefixes, *values_files(root, chart, value_files)]
    return ChartValues(chart, files, prefixes, packaged)


def _chart_name(data: bytes, source: str) -> str | None:
    from gitops_release.yaml.read import YamlError, load_all

    try:
        docs = load_all(data.decode("utf-8", errors="replace"), source=source)
    except YamlError:
        return None
    name = docs[0].get("name") if docs and isinstance(docs[0], dict) else None
    return str(name) if name else None


MAX_PACKAGED_BYTES = 2**20


def _packaged_values(path: Path) -> tuple[str, str, bytes] | None:
    """(chart name, top directory, values.yaml bytes) of a packaged subchart, read-only;
    None when it is not a readable chart archive (then it is not ours to read)."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            metas = sorted(n for n in members if n.count("/") == 1 and n.endswith("/Chart.yaml"))
            if not metas:
                return None
            top = metas[0].split("/")[0]
            values = members.get(f"{top}/values.yaml")
            if values is None or values.size > MAX_PACKAGED_BYTES:
                return None
            meta = members[metas[0]]
            if meta.size > MAX_PACKAGED_BYTES:
                return None
            meta_file, values_file = tar.extractfile(meta), tar.extractfile(values)
            if meta_file is None or values_file is None:
                return None
            name = _chart_name(meta_file.read(), f"{path.name}/{metas[0]}") or top
            return name, top, values_file.read()
    except (tarfile.TarError, OSError, EOFError):
        return None


def under_prefixes(sites: list[Any], prefixes: dict[str, str]) -> list[Any]:
    """Subchart sites with their paths as the parent chart addresses them (``cache.image``)."""
    out = []
    for site in sites:
        prefix = prefixes.get(site.file)
        if prefix:
            site = replace(
                site,
                yaml_path=f"{prefix}.{site.yaml_path}",
                key_paths=tuple((role, f"{prefix}.{path}") for role, path in site.key_paths),
            )
        out.append(site)
    return out


def deciding_sites(sites: list[Any], files: list[str]) -> list[Any]:
    """Per values path, the site in the last file that sets it (Helm merges values files in
    order, so that one is what renders). A later file that sets only part of an image (just
    ``image.tag``) takes the rest from the earlier ones: its ``current`` is the merged image."""
    order = {name: index for index, name in enumerate(files)}
    by_path: dict[str, list[Any]] = {}
    for site in sorted(sites, key=lambda s: order.get(s.file, -1)):
        by_path.setdefault(site.yaml_path, []).append(site)
    chosen: list[Any] = []
    for group in by_path.values():
        last = group[-1]
        if last.image is None and not last.problem and len(group) > 1:
            last = replace(last, current=_merged(group))
        chosen.append(last)
    return chosen


def _merged(group: list[Any]) -> str:
    values: dict[str, str] = {}
    for site in group:
        for role, span in site.fields:
            values[role] = span.value
    name = "/".join(v for v in (values.get("prefix", ""), values.get("repository", "")) if v)
    if not name:
        return ""
    digest = values.get("digest", "")
    if digest and group[-1].digest_hex_only:
        digest = f"sha256:{digest}"
    return (
        name + (f":{values['tag']}" if values.get("tag") else "") + (f"@{digest}" if digest else "")
    )


def refuse_packaged(chart: ChartValues, chosen: list[Any], files: list[str]) -> None:
    """The deciding site of the image is inside a packaged subchart: say where to set it."""
    for site in chosen:
        if site.file in chart.packaged:
            own = [f for f in files if f not in chart.prefixes]
            raise UsageError(
                f"chart {chart.chart}: {site.current} is set only in the packaged subchart "
                f"{site.file}, which bump-image never edits",
                hint=f"set {site.path_of('tag')} in {own[-1] if own else 'the values file'} "
                "(the parent's values override the subchart's defaults), then bump again; "
                "nothing was changed",
            )
