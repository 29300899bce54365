"""Lint checks of the analysis gates: the AnalysisTemplates a Rollout names exist among the linted
files, the args they leave without a value are given by the Rollout, and each template's
conditions compile and its ``{{args.NAME}}`` are declared. (The templates' shape is checked
against the upstream CRD with the other schemas.)

A ClusterAnalysisTemplate is often installed apart from the app: one not in the files is a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from gitops_release.lint.model import Obj, Report

_ARG = re.compile(r"{{\s*args\.([A-Za-z0-9_.-]+)\s*}}")


def _gates(rollout: Obj) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, RolloutAnalysis) of each analysis the Rollout runs."""
    strategy = rollout.get("spec", "strategy")
    if not isinstance(strategy, Mapping):
        return
    blue_green = strategy.get("blueGreen")
    if isinstance(blue_green, Mapping):
        for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
            if isinstance(blue_green.get(key), Mapping):
                yield f"spec.strategy.blueGreen.{key}", blue_green[key]
    canary = strategy.get("canary")
    if isinstance(canary, Mapping):
        if isinstance(canary.get("analysis"), Mapping):
            yield "spec.strategy.canary.analysis", canary["analysis"]
        for i, step in enumerate(canary.get("steps") or []):
            if isinstance(step, Mapping) and isinstance(step.get("analysis"), Mapping):
                yield f"spec.strategy.canary.steps[{i}].analysis", step["analysis"]


def _list(node: Any) -> list[Mapping[str, Any]]:
    return [x for x in node or [] if isinstance(x, Mapping)] if isinstance(node, list) else []


def check_analysis(report: Report) -> None:
    namespaced = {t.name: t for t in report.of_kind("AnalysisTemplate")}
    cluster = {t.name: t for t in report.of_kind("ClusterAnalysisTemplate")}
    for template in [*namespaced.values(), *cluster.values()]:
        _check_template(report, template)
    for rollout in report.of_kind("Rollout"):
        for path, gate in _gates(rollout):
            given = {str(a.get("name")) for a in _list(gate.get("args"))}
            for i, ref in enumerate(_list(gate.get("templates"))):
                where = f"{path}.templates[{i}]"
                name = str(ref.get("templateName") or "")
                scoped = bool(ref.get("clusterScope"))
                kind = "ClusterAnalysisTemplate" if scoped else "AnalysisTemplate"
                found = (cluster if scoped else namespaced).get(name)
                if found is None:
                    if scoped:
                        report.add(
                            rollout.file,
                            rollout.label,
                            f"{where}: {kind} '{name}' is not in these files (installed apart?)",
                            severity="warning",
                        )
                    else:
                        report.add(
                            rollout.file,
                            rollout.label,
                            f"{where}: {kind} '{name}' is not in these files "
                            "(the analysis would fail to start)",
                        )
                    continue
                for arg in _list(found.get("spec", "args")):
                    arg_name = str(arg.get("name"))
                    unset = arg.get("value") is None and arg.get("valueFrom") is None
                    if unset and arg_name not in given:
                        report.add(
                            rollout.file,
                            rollout.label,
                            f"{path}.args: arg '{arg_name}' of {kind}/{name} has no value and "
                            f"the Rollout does not give it (add {{name: {arg_name}, value: ...}})",
                        )


def _check_template(report: Report, template: Obj) -> None:
    from gitops_release.analysis.condition import ConditionSyntax, compile_condition

    declared = {str(a.get("name")) for a in _list(template.get("spec", "args"))}
    for i, metric in enumerate(_list(template.get("spec", "metrics"))):
        where = f"spec.metrics[{i}]"
        for key in ("successCondition", "failureCondition"):
            text = metric.get(key)
            if isinstance(text, str) and text.strip():
                try:
                    compile_condition(text)
                except ConditionSyntax as err:
                    report.add(template.file, template.label, f"{where}.{key}: {err}")
        used = sorted(set(_ARG.findall(repr(dict(metric)))) - declared)
        for name in used:
            report.add(
                template.file,
                template.label,
                f"{where}: {{{{args.{name}}}}} is not declared in spec.args",
            )
