"""Turning an app directory into Kubernetes objects: plain YAML directories and kustomizations.

YAML is read with ruamel.yaml's safe loader (the sandbox's own adapter, apart from the client's
``yamledit``). Kustomize support covers what blue-green apps use: ``resources:`` (files and
directories), ``images:``, ``namespace:`` and ``commonLabels:``.
"""

from __future__ import annotations

import copy
import posixpath
from typing import Any

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


class ManifestError(Exception):
    """The manifests cannot be generated (Argo CD: ComparisonError)."""


def load_yaml_all(text: str, source: str) -> list[Any]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="safe", pure=True)
    try:
        return [doc for doc in yaml.load_all(text) if doc is not None]
    except YAMLError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "invalid YAML"
        raise ManifestError(f"{source}: {first}") from None


def source_type(files: dict[str, bytes]) -> str:
    return "Kustomize" if any(k in files for k in KUSTOMIZATION_FILES) else "Directory"


def generate(
    files: dict[str, bytes],
    *,
    recurse: bool = False,
    images: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The objects an app directory renders to (``images`` are Argo CD's kustomize overrides)."""
    if source_type(files) == "Kustomize":
        objects = _kustomize(files, "")
        if images:
            _set_images(objects, [_parse_override(i) for i in images])
        return objects
    objects = []
    for name in sorted(files):
        if not recurse and "/" in name:
            continue
        if not name.endswith((".yaml", ".yml", ".json")):
            continue
        for doc in load_yaml_all(files[name].decode(errors="replace"), name):
            if isinstance(doc, dict) and doc.get("kind") == "List":
                objects.extend(i for i in doc.get("items") or [] if isinstance(i, dict))
            elif isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc:
                objects.append(doc)
    return objects


def _kustomize(files: dict[str, bytes], base: str) -> list[dict[str, Any]]:
    name = next(
        (posixpath.join(base, k) for k in KUSTOMIZATION_FILES if posixpath.join(base, k) in files),
        None,
    )
    if name is None:
        raise ManifestError(f"{base or '.'}: no kustomization file")
    docs = load_yaml_all(files[name].decode(errors="replace"), name)
    spec: dict[str, Any] = docs[0] if docs and isinstance(docs[0], dict) else {}
    objects: list[dict[str, Any]] = []
    for entry in spec.get("resources") or []:
        path = posixpath.normpath(posixpath.join(base, str(entry)))
        if path in files:
            for doc in load_yaml_all(files[path].decode(errors="replace"), path):
                if isinstance(doc, dict):
                    objects.append(doc)
        elif any(posixpath.join(path, k) in files for k in KUSTOMIZATION_FILES):
            objects.extend(_kustomize(files, path))
        else:
            raise ManifestError(f"{name}: resource {entry!r} not found in the app directory")
    objects = copy.deepcopy(objects)
    if spec.get("namespace"):
        for obj in objects:
            obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    for key, value in (spec.get("commonLabels") or {}).items():
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {})[key] = str(value)
    _set_images(objects, [i for i in spec.get("images") or [] if isinstance(i, dict)])
    return objects


def _parse_override(text: str) -> dict[str, str]:
    """``argocd app set --kustomize-image`` forms: ``name=new:tag``, ``name:tag``."""
    name, _, target = text.partition("=")
    if not target:
        target, name = name, _split(name)[0]
    repo, tag, digest = _split(target)
    out = {"name": name, "newName": repo}
    if tag:
        out["newTag"] = tag
    if digest:
        out["digest"] = digest
    return out


def _split(image: str) -> tuple[str, str, str]:
    repo, _, digest = image.partition("@")
    tag = ""
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = repo.rsplit(":", 1)
    return repo, tag, digest


def set_images(objects: list[dict[str, Any]], overrides: list[str]) -> None:
    """Argo CD's ``spec.source.kustomize.images`` on rendered objects."""
    _set_images(objects, [_parse_override(i) for i in overrides])


def _set_images(objects: list[dict[str, Any]], rules: list[dict[str, Any]]) -> None:
    for obj in objects:
        for container in _containers(obj):
            repo, tag, digest = _split(str(container.get("image", "")))
            for rule in rules:
                if rule.get("name") != repo:
                    continue
                new_repo = str(rule.get("newName") or repo)
                if rule.get("digest"):
                    container["image"] = f"{new_repo}@{rule['digest']}"
                elif rule.get("newTag") is not None:
                    container["image"] = f"{new_repo}:{rule['newTag']}"
                else:
                    suffix = f"@{digest}" if digest else f":{tag}" if tag else ""
                    container["image"] = new_repo + suffix


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") if "template" in spec else spec
    if not isinstance(pod, dict):
        return []
    return [
        c
        for key in ("containers", "initContainers")
        for c in pod.get(key) or []
        if isinstance(c, dict)
    ]


def images_of(obj: dict[str, Any]) -> list[str]:
    return [str(c.get("image")) for c in _containers(obj) if c.get("image")]
