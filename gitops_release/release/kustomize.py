"""A kustomization as ``bump-image`` sees it: an overlay whose image may be decided by its own
``images:`` entry, a component's, or a base's (``resources``) when the overlay sets none.

Kustomize applies a layer's image transformer to what the layers below produced, so the
nearest layer that names the image decides what renders: the overlay first, then its
components, then its resources, depth first. Remote resources (URLs) are not ours to edit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from gitops_release.errors import UsageError

NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


def kustomization_file(root: Path, rel: str) -> Path | None:
    for name in NAMES:
        if (root / rel / name).is_file():
            return root / rel / name
    return None


def layers(root: Path, rel: str, include: Callable[[list[str]], None]) -> list[str]:
    """The directories ``rel`` builds on (components, then resources; depth first), relative to
    ``root``; ``include`` makes them present first (a sparse clone holds only the app)."""
    found: list[str] = []
    pending = [rel]
    while pending:
        current = pending.pop(0)
        below = _directories(root, current)
        include([d for d in below if d not in found and d != rel])
        for directory in below:
            if directory != rel and directory not in found and (root / directory).is_dir():
                found.append(directory)
                pending.append(directory)
    return found


def remote_resources(root: Path, directories: list[str]) -> list[str]:
    """The remote entries (URLs, ``github.com/...``) these kustomizations build on: kustomize
    would fetch them over the network."""
    return [e for d in directories for e in _entries(root, d) if _is_remote(e)]


# Kustomization fields that cannot change a container's image: with only these in every layer,
# the image written in the resource files is the image that renders, and no render is needed.
# Anything else (images, patches, replacements, vars, transformers, helmCharts, ...) may.
LITERAL_FIELDS = frozenset(
    {
        "apiVersion", "kind", "metadata", "resources", "bases", "components", "namespace",
        "namePrefix", "nameSuffix", "commonLabels", "labels", "commonAnnotations",
        "buildMetadata", "sortOptions", "configMapGenerator", "secretGenerator",
        "generatorOptions", "replicas",
    }
)  # fmt: skip


def image_transformers(root: Path, directories: list[str]) -> list[str]:
    """``file: field`` for each field of these kustomizations that may change a rendered image
    (empty: the resource files' images are what ``kubectl kustomize`` renders)."""
    found: list[str] = []
    for rel in directories:
        path = kustomization_file(root, rel)
        if path is None:
            continue
        shown = path.relative_to(root).as_posix()
        data = _fields(path.read_text("utf-8"), shown)
        found += [f"{shown}: {key}" for key in data if key not in LITERAL_FIELDS]
    return found


@lru_cache(maxsize=32)
def _fields(text: str, source: str) -> dict[str, Any]:
    """A kustomization's top-level fields (read only: ``layers``, ``remote_resources`` and
    ``image_transformers`` each read every layer, and a release set has one app per member)."""
    from gitops_release.yaml.read import load_all

    docs = load_all(text, source=source)
    return docs[0] if docs and isinstance(docs[0], dict) else {}


def _is_remote(entry: str) -> bool:
    return "://" in entry or entry.startswith(("github.com/", "gitlab.com/", "bitbucket.org/"))


def _entries(root: Path, rel: str) -> list[str]:
    path = kustomization_file(root, rel)
    if path is None:
        return []
    data = _fields(path.read_text("utf-8"), path.relative_to(root).as_posix())
    entries = [*(data.get("components") or []), *(data.get("resources") or [])]
    entries += data.get("bases") or []  # deprecated spelling of resources, still read
    return [e for e in entries if isinstance(e, str)]


def _directories(root: Path, rel: str) -> list[str]:
    path = kustomization_file(root, rel)
    if path is None:
        return []
    out: list[str] = []
    for entry in _entries(root, rel):
        if _is_remote(entry) or entry.endswith((".yaml", ".yml")):
            continue
        joined = os.path.normpath(PurePosixPath(rel, entry).as_posix())
        if joined.startswith(".."):
            raise UsageError(
                f"{path.relative_to(root)}: resource {entry} is outside the repository",
                hint="bump the repository that holds it",
            )
        out.append(Path(joined).as_posix())
    return out
