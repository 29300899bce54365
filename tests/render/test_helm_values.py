"""Every Helm values file of the real-world corpus, bumped with ``bump-image``, then rendered with
the real ``helm template``: the container that reads the bumped image fields shows the new image,
and nothing else in the render changed.

The chart is made by the test beside each values file (placed at its upstream path, from its
name ``owner__repo__path``, in a real repository with a bare remote): one Deployment with a
container per image written in the values. The values paths come from the editor's own scan
(``find_images``); how a container's image is put together from them is the chart's, written the
way charts do it: ``registry/repository:tag@digest`` (``hub`` as the registry; an empty or missing
tag falls back to the chart's ``appVersion``; a ``sha`` key holds hex digits only), or the value
as it is for a one-string ``image``. So a value Helm reads differently from what the editor wrote
(``tag: 1.20`` unquoted is the float 1.2) shows in the render.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from gitops_release.cli import main
from gitops_release.yaml.edit import find_images
from tests.conftest import GitRemote, git
from tests.render.conftest import CORPUS, Tool, container_images, objects, retag

NEW_TAG = "1.20"
APP_VERSION = "0.0.0-app"
FILES = sorted(p.name for p in CORPUS.glob("*values*.yaml"))
# Files with no image written in them: bump-image must say so (exit 2), nothing to render.
NO_IMAGE = {
    # the chart builds every name from imageRegistry/imageNamespace/image.name; values hold none
    "cert-manager__cert-manager__deploy__charts__cert-manager__values.yaml",
}


def _index(path: str) -> str:
    """``a.b[0].c`` as a Helm lookup: ``(index .Values "a" "b" 0 "c")``."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    keys = " ".join(p[1:-1] if p.startswith("[") else json.dumps(p) for p in parts)
    return f"(index $.Values {keys})"


def _container(number: int, site: Any) -> str:
    paths = dict(site.key_paths)
    lines = [f"        # {site.yaml_path} ({site.form})"]
    if site.form == "reference":
        lines.append(f"        {{{{- $image := {_index(site.yaml_path)} | toString }}}}")
    else:
        for role in ("prefix", "repository", "digest"):
            value = f'{_index(paths[role])} | default ""' if role in paths else '""'
            lines.append(f"        {{{{- ${role} := {value} | toString }}}}")
        tag = _index(paths["tag"]) if "tag" in paths else '""'
        lines.append(f"        {{{{- $tag := {tag} | default $.Chart.AppVersion | toString }}}}")
        if site.digest_hex_only:
            lines.append(
                '        {{- if $digest }}{{ $digest = print "sha256:" $digest }}{{ end }}'
            )
        lines += [
            "        {{- $image := $repository }}",
            "        {{- if and $prefix $repository }}"
            '{{ $image = print $prefix "/" $repository }}'
            "{{ else if $prefix }}{{ $image = $prefix }}{{ end }}",
            '        {{- $image = print $image ":" $tag }}',
            '        {{- if $digest }}{{ $image = print $image "@" $digest }}{{ end }}',
        ]
    lines += [f"        - name: site-{number}", "          image: {{ $image | quote }}"]
    return "\n".join(lines)


def _chart(sites: list[Any]) -> str:
    containers = "\n".join(_container(i, site) for i, site in enumerate(sites))
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: images\nspec:\n"
        "  selector:\n    matchLabels: {app: images}\n  template:\n"
        "    metadata:\n      labels: {app: images}\n    spec:\n      containers:\n"
        f"{containers}\n"
    )


def _render(helm: Tool, chart: Path, values: Path) -> str:
    return helm.output("template", "corpus", chart, "--values", values)


def test_every_corpus_values_file_is_accounted_for() -> None:
    assert len(FILES) >= 33, "the corpus is missing: tests/data/corpus/real"
    assert set(NO_IMAGE) <= set(FILES)


@pytest.mark.parametrize("name", FILES, ids=[n.split("__", 2)[-1] for n in FILES])
def test_bumped_values_render_the_new_image(
    name: str, helm: Tool, git_remote: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    checkout = git_remote.checkout
    rel = PurePosixPath(*name.split("__")[2:])
    values = checkout / rel
    chart = values.parent
    chart.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CORPUS / name, values)
    text = values.read_text(encoding="utf-8")
    sites = [s for s in find_images(text, source=name) if s.current]
    (chart / "Chart.yaml").write_text(
        f"apiVersion: v2\nname: corpus\nversion: 0.1.0\nappVersion: {APP_VERSION}\n"
    )
    (chart / "templates").mkdir()
    (chart / "templates" / "images.yaml").write_text(_chart(sites))
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", f"add {rel} and a chart reading it")
    git(checkout, "push", "-q", "origin", "main")
    capsys.readouterr()
    bump = ["bump-image", NEW_TAG, "--app", str(rel), "--repo", str(checkout), "-o", "json"]

    if name in NO_IMAGE:
        assert sites == []
        assert main(bump) == 2
        assert "no container image found" in capsys.readouterr().err
        return

    before_text = _render(helm, chart, values)
    before = container_images(before_text)
    assert len(before) == len(sites) > 0
    for number, site in enumerate(sites):  # the chart reads what the editor found
        if site.image is not None and site.image.tag and site.form == "split":
            assert before[f"Deployment/images/site-{number}"] == site.current, site.yaml_path
    target = next(s for s in sites if s.image is not None and not s.problem)
    bump += ["--image-name", target.image.name, *(["--all-aliases"] if target.shared else [])]

    code = main(bump)
    out, err = capsys.readouterr()

    assert code == 0, err
    changed = {c["yaml_path"] for c in json.loads(out)["changes"]}
    hit = [
        f"Deployment/images/site-{n}"
        for n, s in enumerate(sites)
        if changed & {s.yaml_path, *dict(s.key_paths).values()}
    ]
    assert f"Deployment/images/site-{sites.index(target)}" in hit
    after_text = _render(helm, chart, values)
    expected = {
        key: retag(image, NEW_TAG) if key in hit else image for key, image in before.items()
    }
    assert container_images(after_text) == expected
    assert len(objects(after_text)) == len(objects(before_text)) == 1
