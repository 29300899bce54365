"""What lint reads: the objects of the linted files, and the findings about them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_release.yaml.read import YamlError, load_all


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


@dataclass
class Report:
    """The objects read so far and the findings about them."""

    findings: list[Finding] = field(default_factory=list)
    objects: list[Obj] = field(default_factory=list)
    kustomizations: list[Obj] = field(default_factory=list)

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
