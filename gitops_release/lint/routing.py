"""Lint checks of the routing: IngressRoutes (services, ports, hosts) and kustomization files."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gitops_release.lint.model import Obj, Report
from gitops_release.lint.workload import files_summary

_HOST_CALL = re.compile(r"\bHost\(([^)]*)\)")
_QUOTED = re.compile(r"`([^`]*)`|\"([^\"]*)\"")


def check_ingressroutes(report: Report) -> None:
    services = {s.name: s for s in report.of_kind("Service")}
    hosts: dict[str, Obj] = {}
    for route_obj in report.of_kind("IngressRoute"):
        for route in route_obj.get("spec", "routes") or []:
            if not isinstance(route, Mapping):
                continue
            for host in _hosts(str(route.get("match", ""))):
                other = hosts.get(host.lower())
                if other is not None and other is not route_obj:
                    report.add(
                        route_obj.file,
                        route_obj.label,
                        f"host {host} is also routed by {other.label} ({other.file})",
                    )
                hosts.setdefault(host.lower(), route_obj)
            for target in route.get("services") or []:
                if isinstance(target, Mapping) and target.get("kind", "Service") == "Service":
                    _check_route_service(report, route_obj, target, services)


def _check_route_service(
    report: Report, route: Obj, target: Mapping[str, Any], services: Mapping[str, Obj]
) -> None:
    name = target.get("name")
    namespace = target.get("namespace")
    if namespace and namespace != route.get("metadata", "namespace"):
        return  # another namespace: not in this directory
    service = services.get(str(name))
    if service is None:
        report.add(
            route.file,
            route.label,
            f"service {name!r} is not a Service in {files_summary(report.objects)}",
        )
        return
    port = target.get("port")
    ports = [p for p in service.get("spec", "ports") or [] if isinstance(p, Mapping)]
    if port is None:
        if len(ports) > 1:
            report.add(route.file, route.label, f"service {name!r} has several ports: give port")
        return
    if not any(port in (p.get("port"), p.get("name")) for p in ports):
        known = ", ".join(str(p.get("port")) for p in ports) or "none"
        report.add(
            route.file, route.label, f"port {port!r} is not a port of Service {name} ({known})"
        )


def check_kustomizations(report: Report, present: Iterable[str]) -> None:
    present = set(present)
    for kust in report.kustomizations:
        base = Path(kust.file).parent
        listed = set()
        for resource in kust.get("resources") or []:
            if not isinstance(resource, str) or "://" in resource:
                continue
            listed.add(str(base / resource))
            if str(base / resource) not in present and not (base / resource).exists():
                report.add(kust.file, "Kustomization", f"resource {resource} does not exist")
        for file in sorted(present):
            if (
                Path(file).parent == base
                and file != kust.file
                and file not in listed
                and Path(file).suffix in (".yaml", ".yml")
            ):
                report.add(
                    kust.file,
                    "Kustomization",
                    f"{Path(file).name} is not in resources: Argo CD will not deploy it",
                    "warning",
                )


def _hosts(match: str) -> list[str]:
    hosts = []
    for call in _HOST_CALL.finditer(match):
        hosts += [a or b for a, b in _QUOTED.findall(call.group(1))]
    return hosts
