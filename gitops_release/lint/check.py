"""``lint PATH...``: check an app directory the way Argo Rollouts and Argo CD would see it.

Checks: every YAML document parses and is a named Kubernetes object; known kinds pass their schema
(Rollout, Application, IngressRoute: the upstream CRDs; Service: our own); each blue-green Rollout's
``activeService``/``previewService`` exist as Services here, select the Rollout's pods, and their
``targetPort`` is a container port (number or name); IngressRoute services and ports exist; no two
IngressRoutes claim one host; a kustomization lists files that exist; the AnalysisTemplates a
Rollout names are here (AnalysisTemplate: the upstream CRD), with their args given and their
conditions compiling (:mod:`.analysis`). With a manual gate asked for
(``manual_gate``, the default), a Rollout that promotes by itself is a warning.

A finding is one line: ``file: Kind/name: problem``. Errors fail lint (exit 1); warnings only with
``strict``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitops_release.errors import UsageError
from gitops_release.lint.analysis import check_analysis
from gitops_release.lint.model import Finding, Obj, Report
from gitops_release.lint.routing import check_ingressroutes, check_kustomizations
from gitops_release.lint.workload import check_rollouts
from gitops_release.schemas import validate as schemas

__all__ = ["Finding", "Obj", "collect", "lint_paths", "lint_texts"]


def check_unique(report: Report) -> None:
    seen: dict[tuple[str, str, str], Obj] = {}
    for obj in report.objects:
        key = (str(obj.data.get("apiVersion")), obj.kind, obj.name)
        if key in seen:
            report.add(obj.file, obj.label, f"defined twice (also in {seen[key].file})")
        seen.setdefault(key, obj)


def check_schemas(report: Report, schema_override: Mapping[str, Any] | None) -> None:
    for obj in report.objects:
        name = schemas.schema_name(obj.data)
        if name is None:
            continue
        override = (schema_override or {}).get(name)
        for problem in schemas.problems(obj.data, override):
            report.add(obj.file, obj.label, f"schema: {problem}")


def lint_texts(
    files: Mapping[str, str],
    *,
    manual_gate: bool = True,
    schema_override: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Lint in-memory files (display name -> text), checked together as one app."""
    report = Report()
    for name, text in files.items():
        report.read(name, text)
    check_unique(report)
    check_schemas(report, schema_override)
    check_rollouts(report, manual_gate=manual_gate)
    check_ingressroutes(report)
    check_kustomizations(report, files)
    check_analysis(report)
    return report.findings


def collect(paths: Sequence[Path]) -> dict[str, str]:
    """The YAML files named by ``paths`` (files, or directories: their ``*.yaml``/``*.yml``)."""
    found: dict[str, str] = {}
    for path in paths:
        if path.is_dir():
            names = sorted(
                p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
            )
            if not names:
                raise UsageError(f"{path}: no .yaml or .yml files in this directory")
        elif path.is_file():
            names = [path]
        else:
            raise UsageError(f"{path}: no such file or directory")
        for name in names:
            try:
                found[str(name)] = name.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise UsageError(
                    f"{name}: cannot read: {getattr(err, 'strerror', None) or err}"
                ) from None
    return found


def lint_paths(paths: Sequence[Path], *, manual_gate: bool = True) -> list[Finding]:
    """Lint the files under ``paths`` as one app (an app directory plus, say, argocd/APP.yaml)."""
    return lint_texts(collect(paths), manual_gate=manual_gate)
