"""``lint PATH...``: check an app directory the way Argo Rollouts and Argo CD would see it.

Checks: every YAML document parses and is a named Kubernetes object; known kinds pass their schema
(Rollout, Application, IngressRoute: the upstream CRDs; Service: our own); each blue-green Rollout's
``activeService``/``previewService`` exist as Services here, select the Rollout's pods, and their
``targetPort`` is a container port (number or name); IngressRoute services and ports exist; no two
IngressRoutes claim one host; a kustomization lists files that exist. With a manual gate asked for
(``manual_gate``, the default), a Rollout that promotes by itself is a warning.

A finding is one line: ``file: Kind/name: problem``. Errors fail lint (exit 1); warnings only with
``strict``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_release import schemas
from gitops_release.errors import UsageError
from gitops_release.yamledit import YamlError, load_all

_HOST_CALL = re.compile(r"\bHost\(([^)]*)\)")
_QUOTED = re.compile(r"`([^`]*)`|\"([^\"]*)\"")


@dataclass(frozen=True)
class Finding:
    file: str
    obj: str
    problem: str
    severity: str = "error"

    def line(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.file}: {self.obj}: {prefix}{self.problem}"

    def as_json(self) -> dict[str, str]:
        return {
            "file": self.file,
            "object": self.obj,
            "severity": self.severity,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class Obj:
    file: str
    data: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", "?"))

    @property
    def name(self) -> str:
        meta = self.data.get("metadata")
        return str(meta.get("name", "?")) if isinstance(meta, Mapping) else "?"

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    def get(self, *path: str) -> Any:
        node: Any = self.data
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        return node


class _Linter:
    def __init__(self, manual_gate: bool, schema_override: Mapping[str, Any] | None) -> None:
        self.manual_gate = manual_gate
        self.schema_override = schema_override
        self.findings: list[Finding] = []
        self.objects: list[Obj] = []
        self.kustomizations: list[Obj] = []

    def add(self, file: str, obj: str, problem: str, severity: str = "error") -> None:
        self.findings.append(Finding(file, obj, problem, severity))

    # reading --------------------------------------------------------------------------------
    def read(self, file: str, text: str) -> None:
        try:
            docs = load_all(text, source=file)
        except YamlError as err:
            self.add(file, "YAML", err.message.removeprefix(f"{file}:"))
            return
        for index, doc in enumerate(docs, 1):
            if doc is None:
                continue
            where = f"document {index}"
            if not isinstance(doc, Mapping):
                self.add(file, where, "is not a mapping (a Kubernetes object)")
                continue
            obj = Obj(file, doc)
            if doc.get("kind") == "Kustomization":
                self.kustomizations.append(obj)
                continue
            missing = [k for k in ("apiVersion", "kind") if not doc.get(k)]
            if missing or obj.name == "?":
                what = ", ".join(missing + (["metadata.name"] if obj.name == "?" else []))
                self.add(file, where, f"missing {what}")
                continue
            self.objects.append(obj)

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o.kind == kind]

    # checks ---------------------------------------------------------------------------------
    def check_unique(self) -> None:
        seen: dict[tuple[str, str, str], Obj] = {}
        for obj in self.objects:
            key = (str(obj.data.get("apiVersion")), obj.kind, obj.name)
            if key in seen:
                self.add(obj.file, obj.label, f"defined twice (also in {seen[key].file})")
            seen.setdefault(key, obj)

    def check_schemas(self) -> None:
        for obj in self.objects:
            name = schemas.schema_name(obj.data)
            if name is None:
                continue
            override = (self.schema_override or {}).get(name)
            for problem in schemas.problems(obj.data, override):
                self.add(obj.file, obj.label, f"schema: {problem}")

    def check_rollouts(self) -> None:
        services = {s.name: s for s in self.of_kind("Service")}
        for rollout in self.of_kind("Rollout"):
            labels = rollout.get("spec", "template", "metadata", "labels") or {}
            match = rollout.get("spec", "selector", "matchLabels") or {}
            if (
                isinstance(match, Mapping)
                and isinstance(labels, Mapping)
                and not _selects(match, labels)
            ):
                self.add(
                    rollout.file,
                    rollout.label,
                    f"spec.selector.matchLabels {_fmt(match)} do not match the pod labels {_fmt(labels)}",
                )
            blue_green = rollout.get("spec", "strategy", "blueGreen")
            if not isinstance(blue_green, Mapping):
                continue
            refs = [("activeService", blue_green.get("activeService"))]
            if blue_green.get("previewService"):
                refs.append(("previewService", blue_green.get("previewService")))
            if len(refs) == 2 and refs[0][1] == refs[1][1]:
                self.add(
                    rollout.file,
                    rollout.label,
                    "activeService and previewService are the same Service",
                )
            for field_name, ref in refs:
                if not isinstance(ref, str) or not ref:
                    continue
                service = services.get(ref)
                if service is None:
                    self.add(
                        rollout.file,
                        rollout.label,
                        f"{field_name} {ref!r} is not a Service in {_files(self.objects)}",
                    )
                    continue
                self._check_service(service, rollout, labels if isinstance(labels, Mapping) else {})
            self._check_promotion(rollout, blue_green)

    def _check_service(self, service: Obj, rollout: Obj, labels: Mapping[str, Any]) -> None:
        selector = service.get("spec", "selector")
        if not isinstance(selector, Mapping) or not selector:
            self.add(
                service.file,
                service.label,
                f"has no selector, so it reaches no pods of {rollout.label}",
            )
        elif not _selects(selector, labels):
            self.add(
                service.file,
                service.label,
                f"selector {_fmt(selector)} does not match the pod labels {_fmt(labels)} of {rollout.label}",
            )
        numbers, names = set(), set()
        for container in rollout.get("spec", "template", "spec", "containers") or []:
            container_ports = container.get("ports") if isinstance(container, Mapping) else None
            for port in container_ports or []:
                if isinstance(port, Mapping):
                    numbers.add(port.get("containerPort"))
                    names.add(port.get("name"))
        for port in service.get("spec", "ports") or []:
            if not isinstance(port, Mapping):
                continue
            target = port.get("targetPort", port.get("port"))
            if (isinstance(target, int) and target not in numbers) or (
                isinstance(target, str) and target not in names
            ):
                self.add(
                    service.file,
                    service.label,
                    f"targetPort {target!r} is not a container port of {rollout.label} "
                    f"(ports: {', '.join(str(n) for n in sorted(numbers, key=str) if n is not None) or 'none'})",
                )

    def _check_promotion(self, rollout: Obj, blue_green: Mapping[str, Any]) -> None:
        auto = blue_green.get("autoPromotionEnabled", True)
        if self.manual_gate and auto is not False:
            how = "is true" if "autoPromotionEnabled" in blue_green else "is not set (default true)"
            self.add(
                rollout.file,
                rollout.label,
                f"autoPromotionEnabled {how}: a new version goes live without a promote, but a "
                "manual gate was asked for (set it to false, or lint with --no-manual-gate)",
                "warning",
            )
        if auto is False and blue_green.get("autoPromotionSeconds") is not None:
            self.add(
                rollout.file,
                rollout.label,
                "autoPromotionSeconds is ignored while autoPromotionEnabled is false",
                "warning",
            )

    def check_ingressroutes(self) -> None:
        services = {s.name: s for s in self.of_kind("Service")}
        hosts: dict[str, Obj] = {}
        for route_obj in self.of_kind("IngressRoute"):
            for route in route_obj.get("spec", "routes") or []:
                if not isinstance(route, Mapping):
                    continue
                for host in _hosts(str(route.get("match", ""))):
                    other = hosts.get(host.lower())
                    if other is not None and other is not route_obj:
                        self.add(
                            route_obj.file,
                            route_obj.label,
                            f"host {host} is also routed by {other.label} ({other.file})",
                        )
                    hosts.setdefault(host.lower(), route_obj)
                for target in route.get("services") or []:
                    if isinstance(target, Mapping) and target.get("kind", "Service") == "Service":
                        self._check_route_service(route_obj, target, services)

    def _check_route_service(
        self, route: Obj, target: Mapping[str, Any], services: Mapping[str, Obj]
    ) -> None:
        name = target.get("name")
        namespace = target.get("namespace")
        if namespace and namespace != route.get("metadata", "namespace"):
            return  # another namespace: not in this directory
        service = services.get(str(name))
        if service is None:
            self.add(
                route.file,
                route.label,
                f"service {name!r} is not a Service in {_files(self.objects)}",
            )
            return
        port = target.get("port")
        ports = [p for p in service.get("spec", "ports") or [] if isinstance(p, Mapping)]
        if port is None:
            if len(ports) > 1:
                self.add(route.file, route.label, f"service {name!r} has several ports: give port")
            return
        if not any(port in (p.get("port"), p.get("name")) for p in ports):
            known = ", ".join(str(p.get("port")) for p in ports) or "none"
            self.add(
                route.file, route.label, f"port {port!r} is not a port of Service {name} ({known})"
            )

    def check_kustomizations(self, present: Iterable[str]) -> None:
        present = set(present)
        for kust in self.kustomizations:
            base = Path(kust.file).parent
            listed = set()
            for resource in kust.get("resources") or []:
                if not isinstance(resource, str) or "://" in resource:
                    continue
                listed.add(str(base / resource))
                if str(base / resource) not in present and not (base / resource).exists():
                    self.add(kust.file, "Kustomization", f"resource {resource} does not exist")
            for file in sorted(present):
                if (
                    Path(file).parent == base
                    and file != kust.file
                    and file not in listed
                    and Path(file).suffix in (".yaml", ".yml")
                ):
                    self.add(
                        kust.file,
                        "Kustomization",
                        f"{Path(file).name} is not in resources: Argo CD will not deploy it",
                        "warning",
                    )


def _selects(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _fmt(labels: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "(none)"


def _files(objects: Sequence[Obj]) -> str:
    names = sorted({o.file for o in objects})
    return ", ".join(names) if len(names) <= 3 else f"{len(names)} files"


def _hosts(match: str) -> list[str]:
    hosts = []
    for call in _HOST_CALL.finditer(match):
        hosts += [a or b for a, b in _QUOTED.findall(call.group(1))]
    return hosts


def lint_texts(
    files: Mapping[str, str],
    *,
    manual_gate: bool = True,
    schema_override: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Lint in-memory files (display name -> text), checked together as one app."""
    linter = _Linter(manual_gate, schema_override)
    for name, text in files.items():
        linter.read(name, text)
    linter.check_unique()
    linter.check_schemas()
    linter.check_rollouts()
    linter.check_ingressroutes()
    linter.check_kustomizations(files)
    return linter.findings


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
