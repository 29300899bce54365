"""Rendering an Application's source the way Argo CD's repo-server does, with the real tools:
``kubectl kustomize`` for a kustomization, ``helm template`` for a chart (release name = the
app, its destination namespace, ``valueFiles``, ``values``/``valuesObject``, ``parameters``),
multi-source ``$ref/...`` values files, and plain directories as ``manifests.generate`` reads them.

The source is checked out whole (overlays reach ``../../base``; values files may live beside
the chart) into a temporary directory at the resolved commit. Which tools: the binaries named by
``GITOPS_RELEASE_KUBECTL`` / ``GITOPS_RELEASE_HELM``, else ``tools/bin`` of this Python's
prefix (where ``./dev`` installs them), else ``PATH``. Without kubectl a kustomization falls
back to the built-in subset of ``manifests``; without helm a chart cannot render (a
ComparisonError, as Argo CD would show).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_release.sandbox.manifests import (
    KUSTOMIZATION_FILES,
    ManifestError,
    generate,
    load_yaml_all,
    set_images,
)

Files = dict[str, bytes]


@dataclass(frozen=True)
class Tools:
    kubectl: str | None
    helm: str | None

    def missing(self) -> list[str]:
        """One line per missing tool, saying what that means (printed at start-up)."""
        lines = []
        if self.kubectl is None:
            lines.append(
                "kubectl not found (GITOPS_RELEASE_KUBECTL, ./dev's .venv/tools/bin or PATH): "
                "kustomizations render with the built-in subset (resources, images, namespace, "
                "commonLabels)"
            )
        if self.helm is None:
            lines.append(
                "helm not found (GITOPS_RELEASE_HELM, ./dev's .venv/tools/bin or PATH): "
                "Helm charts cannot render"
            )
        return lines


def find_tools(environ: Mapping[str, str]) -> Tools:
    local = Path(sys.prefix) / "tools" / "bin"

    def find(name: str) -> str | None:
        named = environ.get(f"GITOPS_RELEASE_{name.upper()}", "")
        if named:
            return shutil.which(named)
        if (local / name).is_file() and os.access(local / name, os.X_OK):
            return str(local / name)
        return shutil.which(name)

    return Tools(find("kubectl"), find("helm"))


def source_kind(files: Files, path: str) -> str:
    prefix = "" if path in ("", ".") else path.rstrip("/") + "/"
    if f"{prefix}Chart.yaml" in files:
        return "Helm"
    if any(prefix + k in files for k in KUSTOMIZATION_FILES):
        return "Kustomize"
    return "Directory"


def render(
    tools: Tools,
    source: dict[str, Any],
    files: Files,
    *,
    app: str,
    namespace: str,
    refs: Mapping[str, Files] | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """The objects ``source`` renders to from ``files`` (the whole repository at the commit),
    and its source type; ``refs`` holds the files of multi-source ``ref:`` sources."""
    path = str(source.get("path") or ".").strip("/").removeprefix("./") or "."
    kind = source_kind(files, path)
    if kind == "Directory":
        prefix = "" if path == "." else path + "/"
        below = {k[len(prefix) :]: v for k, v in files.items() if k.startswith(prefix)}
        if not below and prefix:
            raise ManifestError(f"{path}: app path does not exist")
        recurse = bool((source.get("directory") or {}).get("recurse"))
        return generate(below, recurse=recurse), kind
    images = (source.get("kustomize") or {}).get("images") or []
    if kind == "Kustomize" and tools.kubectl is None:
        prefix = "" if path == "." else path + "/"
        below = {k[len(prefix) :]: v for k, v in files.items() if k.startswith(prefix)}
        return generate(below, images=images), kind
    with tempfile.TemporaryDirectory(prefix="sandbox-render-") as tmp:
        root = Path(tmp) / "repo"
        _write(root, files)
        ref_roots: dict[str, Path] = {}
        for name, ref_files in (refs or {}).items():
            ref_roots[name] = Path(tmp) / f"ref-{len(ref_roots)}"
            _write(ref_roots[name], ref_files)
        if kind == "Kustomize":
            assert tools.kubectl is not None
            out = _run([tools.kubectl, "kustomize", str(root / path)], "kubectl kustomize")
        elif tools.helm is None:
            raise ManifestError(f"{path}: a Helm chart, and helm is not installed in the sandbox")
        else:
            args = _helm_args(source.get("helm") or {}, root, path, ref_roots, Path(tmp))
            release = str((source.get("helm") or {}).get("releaseName") or app)
            command = [tools.helm, "template", release, str(root / path), "-n", namespace]
            out = _run([*command, *args], "helm template")
    objects = [
        doc
        for doc in load_yaml_all(out, "rendered manifests")
        if isinstance(doc, dict) and "apiVersion" in doc and "kind" in doc
    ]
    if images:
        set_images(objects, images)
    return objects, kind


def _helm_args(
    helm: dict[str, Any], root: Path, path: str, refs: Mapping[str, Path], tmp: Path
) -> list[str]:
    args: list[str] = []
    for name in helm.get("valueFiles") or []:
        text = str(name)
        if text.startswith("$"):
            ref, _, rest = text[1:].partition("/")
            if ref not in refs:
                raise ManifestError(f"{text}: no source with ref {ref!r}")
            file = refs[ref] / rest
        else:
            file = root / path / text
        if not file.is_file():
            if helm.get("ignoreMissingValueFiles"):
                continue
            raise ManifestError(f"{text}: no such values file")
        args += ["-f", str(file)]
    for key, write in (("values", str), ("valuesObject", json.dumps)):
        value = helm.get(key)
        if value:
            extra = tmp / f"{key}.yaml"
            extra.write_text(write(value))
            args += ["-f", str(extra)]
    for param in helm.get("parameters") or []:
        flag = "--set-string" if param.get("forceString") else "--set"
        args += [flag, f"{param.get('name')}={param.get('value', '')}"]
    return args


def _write(root: Path, files: Files) -> None:
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _run(command: list[str], what: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ManifestError(f"{what}: {err}") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise ManifestError(f"{what}: {lines[-1] if lines else f'exit {done.returncode}'}")
    return done.stdout
