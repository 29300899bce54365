"""Which files of an app bump-image reads: the cheap pre-filter never hides an image site."""

from __future__ import annotations

import pytest

from gitops_release import appedit, yamledit
from tests.conftest import SHARED

CORPUS = SHARED / "corpus" / "real"
FILES = sorted(p for p in CORPUS.glob("*") if p.suffix in (".yaml", ".yml"))


@pytest.mark.skipif(not FILES, reason="corpus not present")
def test_prefilter_keeps_every_corpus_file_with_an_image() -> None:
    with_images = 0
    for path in FILES:
        try:
            source = yamledit.read_text(path.read_bytes(), source=path.name)
            sites = yamledit.find_images(source.text, source=path.name)
        except yamledit.YamlError:
            continue
        if sites:
            with_images += 1
            assert appedit.may_hold_images(source.text), path.name
    assert with_images > 50


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
