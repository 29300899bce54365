"""Which files of an app bump-image reads: the cheap pre-filter never hides an image site."""

from __future__ import annotations

import contextlib

import pytest

from gitops_release.release import edit as appedit
from gitops_release.yaml import edit as yamledit
from tests.conftest import DATA

CORPUS = DATA / "corpus" / "real"
FILES = sorted(p for p in CORPUS.glob("*") if p.suffix in (".yaml", ".yml"))


def test_prefilter_never_hides_an_image_in_the_corpus() -> None:
    """Only the files the pre-filter would skip need parsing to prove it: none holds a site."""
    skipped = []
    for path in FILES:
        text = path.read_bytes().decode("utf-8", "replace").removeprefix("\ufeff")
        if not appedit.may_hold_images(text):
            skipped.append(path.name)
            with contextlib.suppress(yamledit.YamlError):
                assert yamledit.find_images(text, source=path.name) == [], path.name
    assert len(skipped) < len(FILES) // 2  # most corpus files hold images: the filter keeps them


@pytest.mark.parametrize(
    "text",
    [
        "spec:\n  template:\n    spec:\n      initContainers:\n        - name: a\n          image: x:1\n",
        "images:\n  - name: team/app\n    newTag: v1\n",
        "app:\n  repository: team/app\n  tag: v1\n",
        "proxy:\n  hub: docker.io/istio\n  tag: 1.20\n",
        "sidecarImage: team/sidecar:1.0\n",
        "{'containers': [{'name': 'a', 'Image': 'x:1'}]}\n",
    ],
)
def test_prefilter_synthetic_sites(text: str) -> None:
    assert appedit.may_hold_images(text)


def test_prefilter_skips_plain_objects() -> None:
    service = (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: 80}]\n"
    )
    assert not appedit.may_hold_images(service)
