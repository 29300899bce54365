"""One Argo CD Application as the sandbox keeps it: the object, its rendered source, and the
bookkeeping of the controller (kept off the wire)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitops_release.sandbox.cluster import Key
from gitops_release.sandbox.kube import api_group

NAMESPACE = "argocd"


@dataclass
class App:
    obj: dict[str, Any]
    desired: list[dict[str, Any]] = field(default_factory=list)
    revision: str = ""
    revisions: list[str] = field(default_factory=list)
    """Multi-source: the commit of each of ``spec.sources``, in order (``revision`` is the
    rendering source's)."""
    kind: str = "Directory"
    error: str = ""
    fetched_at: float = float("-inf")
    op_started: float = 0.0
    hold_until: float = 0.0  # fault injection: keep the operation Running until then
    snapshot: str = ""  # the last comparison result, to tell a real change
    compared_fetch: float = float("-inf")
    multi_step: bool = False
    fail_syncs: int = 0  # fault injection: the next N sync operations fail
    fail_message: str = ""  # the running sync waits for health (several waves, or hooks)
    health: dict[Key, dict[str, str]] = field(default_factory=dict)
    fingerprint: str = ""
    stamp: int = 0

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def spec(self) -> dict[str, Any]:
        return self.obj["spec"]  # type: ignore[no-any-return]

    @property
    def source(self) -> dict[str, Any]:
        """The source that renders: ``spec.source``, or of ``spec.sources`` the first that is
        more than a ``ref`` (a chart or a path; ``ref`` sources only lend their files)."""
        if self.spec.get("source"):
            return self.spec["source"]  # type: ignore[no-any-return]
        for source in self.spec.get("sources") or []:
            if isinstance(source, dict) and (source.get("path") or source.get("chart")):
                return source
        return {}

    @property
    def multi_source(self) -> bool:
        return not self.spec.get("source") and bool(self.spec.get("sources"))

    @property
    def ref_sources(self) -> list[dict[str, Any]]:
        """Multi-source ``ref:`` sources, whose files ``$ref/...`` values files name."""
        return [
            s
            for s in self.spec.get("sources") or []
            if isinstance(s, dict) and s.get("ref") and s is not self.source
        ]

    @property
    def namespace(self) -> str:
        return str((self.spec.get("destination") or {}).get("namespace") or "default")

    @property
    def status(self) -> dict[str, Any]:
        return self.obj.setdefault("status", {})  # type: ignore[no-any-return]


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k not in ("status",)}
    meta = dict(out.get("metadata") or {})
    meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def resource_entry(obj: dict[str, Any], key: Key, status: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "version": api_group(str(obj.get("apiVersion", "")))[1],
        "kind": key[1],
        "namespace": key[2],
        "name": key[3],
        "status": status,
    }
    if key[0]:
        entry["group"] = key[0]
    return entry


def wire_health(health: dict[str, str]) -> dict[str, str]:
    out = {"status": health["status"]}
    if health.get("message"):
        out["message"] = health["message"]
    return out
