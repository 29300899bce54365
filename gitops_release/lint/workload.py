"""Lint checks of the workload: the Rollout, its images, its Services and its promotion gate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitops_release.errors import UsageError
from gitops_release.images import parse_image
from gitops_release.lint.model import Obj, Report

_POD_HASH = "rollouts-pod-template-hash"


def check_rollouts(report: Report, *, manual_gate: bool) -> None:
    services = {s.name: s for s in report.of_kind("Service")}
    for rollout in report.of_kind("Rollout"):
        labels = rollout.get("spec", "template", "metadata", "labels") or {}
        match = rollout.get("spec", "selector", "matchLabels") or {}
        # A Rollout with workloadRef takes its pods from a Deployment: no template to check here.
        has_template = isinstance(rollout.get("spec", "template"), Mapping)
        if (
            has_template
            and isinstance(match, Mapping)
            and isinstance(labels, Mapping)
            and not _selects(match, labels)
        ):
            report.add(
                rollout.file,
                rollout.label,
                f"spec.selector.matchLabels {_fmt(match)} do not match the pod labels {_fmt(labels)}",
            )
        _check_images(report, rollout)
        blue_green = rollout.get("spec", "strategy", "blueGreen")
        if not isinstance(blue_green, Mapping):
            strategy = rollout.get("spec", "strategy")
            kinds = sorted(strategy) if isinstance(strategy, Mapping) else []
            report.add(
                rollout.file,
                rollout.label,
                f"spec.strategy has no blueGreen ({', '.join(kinds) or 'none'}): the preview, promote "
                "and abort flow of gitops-release needs a blue-green Rollout",
            )
            continue
        refs = [("activeService", blue_green.get("activeService"))]
        if blue_green.get("previewService"):
            refs.append(("previewService", blue_green.get("previewService")))
        if len(refs) == 2 and refs[0][1] == refs[1][1]:
            report.add(
                rollout.file,
                rollout.label,
                "activeService and previewService are the same Service",
            )
        for field_name, ref in refs:
            if not isinstance(ref, str) or not ref:
                continue
            service = services.get(ref)
            if service is None:
                report.add(
                    rollout.file,
                    rollout.label,
                    f"{field_name} {ref!r} is not a Service in {files_summary(report.objects)}",
                )
                continue
            if has_template:
                _check_service(
                    report, service, rollout, labels if isinstance(labels, Mapping) else {}
                )
        _check_promotion(report, rollout, blue_green, manual_gate)


def _check_images(report: Report, rollout: Obj) -> None:
    for container in rollout.get("spec", "template", "spec", "containers") or []:
        image = container.get("image") if isinstance(container, Mapping) else None
        if not isinstance(image, str):
            continue
        try:
            ref = parse_image(image, what=None)
        except UsageError as err:
            report.add(rollout.file, rollout.label, f"image {image!r}: {err.message}")
            continue
        if ref.tag is None and ref.digest is None:
            report.add(
                rollout.file,
                rollout.label,
                f"image {image} has no tag: every sync may pull another version, and a "
                "release has no tag to change",
                "warning",
            )


def _check_service(report: Report, service: Obj, rollout: Obj, labels: Mapping[str, Any]) -> None:
    selector = service.get("spec", "selector")
    if isinstance(selector, Mapping) and _POD_HASH in selector:
        report.add(
            service.file,
            service.label,
            f"selector pins {_POD_HASH}: Argo Rollouts sets it live; in Git it makes Argo CD "
            "and the controller fight (remove it)",
        )
        selector = {k: v for k, v in selector.items() if k != _POD_HASH}
    if not isinstance(selector, Mapping) or not selector:
        report.add(
            service.file,
            service.label,
            f"has no selector, so it reaches no pods of {rollout.label}",
        )
    elif not _selects(selector, labels):
        report.add(
            service.file,
            service.label,
            f"selector {_fmt(selector)} does not match the pod labels {_fmt(labels)} of {rollout.label}",
        )
    numbers, names = set(), set()
    for container in rollout.get("spec", "template", "spec", "containers") or []:
        container_ports = container.get("ports") if isinstance(container, Mapping) else None
        for port in container_ports or []:
            if isinstance(port, Mapping):
                number = port.get("containerPort")
                # "80" (a string) is the schema's finding; matched here as 80, it is not a second one
                numbers.add(int(number) if isinstance(number, str) and number.isdigit() else number)
                names.add(port.get("name"))
    for port in service.get("spec", "ports") or []:
        if not isinstance(port, Mapping):
            continue
        target = port.get("targetPort", port.get("port"))
        if (isinstance(target, int) and target not in numbers) or (
            isinstance(target, str) and target not in names
        ):
            report.add(
                service.file,
                service.label,
                f"targetPort {target!r} is not a container port of {rollout.label} "
                f"(ports: {', '.join(str(n) for n in sorted(numbers, key=str) if n is not None) or 'none'})",
            )


def _check_promotion(
    report: Report, rollout: Obj, blue_green: Mapping[str, Any], manual_gate: bool
) -> None:
    auto = blue_green.get("autoPromotionEnabled", True)
    if manual_gate and auto is not False:
        how = "is true" if "autoPromotionEnabled" in blue_green else "is not set (default true)"
        report.add(
            rollout.file,
            rollout.label,
            f"autoPromotionEnabled {how}: a new version goes live without a promote, but a "
            "manual gate was asked for (set it to false, or lint with --no-manual-gate)",
            "warning",
        )
    if auto is False and blue_green.get("autoPromotionSeconds") is not None:
        report.add(
            rollout.file,
            rollout.label,
            "autoPromotionSeconds is ignored while autoPromotionEnabled is false",
            "warning",
        )


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _fmt(labels: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "(none)"


def files_summary(objects: Sequence[Obj]) -> str:
    names = sorted({o.file for o in objects})
    return ", ".join(names) if len(names) <= 3 else f"{len(names)} files"
