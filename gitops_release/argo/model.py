"""Typed views of the Argo CD objects we read: Application, its resource tree, the live Rollout.

Built from the JSON on the wire (grpc-gateway + Go encoding/json: omitted zero values, int64 as
numbers, times as RFC 3339 strings); unknown fields are ignored, missing ones get neutral defaults.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from gitops_release.argo import phase as rollout_phase
from gitops_release.errors import UsageError
from gitops_release.output import register_secret

_SENSITIVE_HEADER = re.compile(r"auth|token|secret|key|cookie|session|password", re.IGNORECASE)


def provider_secrets(provider: Any) -> list[str]:
    """The credentials in an analysis metric's provider block (``{"web": {...}}`` or the block
    itself): a URL's password with its ``user:password`` pair and Basic form, and the values of
    token-like headers with the bare token after ``Bearer``. Callers register them as secrets."""
    import base64
    from urllib.parse import urlsplit

    blocks = [provider] if isinstance(provider, dict) else []
    blocks += [v for v in (provider or {}).values() if isinstance(v, dict)] if blocks else []
    found: list[str] = []
    for block in blocks:
        for key in ("address", "url"):
            parts = urlsplit(str(block.get(key) or ""))
            if parts.password:
                pair = f"{parts.username or ''}:{parts.password}"
                found += [parts.password, pair, base64.b64encode(pair.encode()).decode()]
        for header in block.get("headers") or []:
            if isinstance(header, dict) and _SENSITIVE_HEADER.search(str(header.get("key") or "")):
                value = str(header.get("value") or "")
                found += [value, value.split(" ", 1)[-1].strip()]
    return [v for v in found if v]


def _d(data: Any, *keys: str) -> Any:
    """``data[k1][k2]...`` or None when any level is missing or not a mapping."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _s(data: Any, *keys: str) -> str:
    value = _d(data, *keys)
    return "" if value is None else str(value)


def _i(data: Any, *keys: str) -> int:
    value = _d(data, *keys)
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class ResourceStatus:
    group: str
    kind: str
    namespace: str
    name: str
    version: str = ""
    status: str = ""
    health: str = ""
    health_message: str = ""


@dataclass(frozen=True)
class OperationState:
    phase: str
    message: str = ""
    revision: str = ""
    started_at: str = ""
    finished_at: str = ""


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    revision: str
    deployed_at: str = ""
    deploy_started_at: str = ""
    initiated_by: str = ""


@dataclass(frozen=True)
class ValuesSource:
    """Multi-source: the ``ref`` source holding the chart's ``$ref/...`` values files."""

    index: int
    """Its position in ``spec.sources`` (0-based)."""
    repo_url: str
    target_revision: str
    files: tuple[str, ...]
    """The values files' paths in it, in Helm's order."""


@dataclass(frozen=True)
class Application:
    name: str
    namespace: str = ""
    project: str = ""
    repo_url: str = ""
    path: str = ""
    target_revision: str = ""
    dest_namespace: str = ""
    auto_sync: bool = False
    sync_status: str = "Unknown"
    revision: str = ""
    health: str = "Unknown"
    health_message: str = ""
    operation_running: bool = False
    operation: OperationState | None = None
    history: tuple[HistoryEntry, ...] = ()
    resources: tuple[ResourceStatus, ...] = ()
    images: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    reconciled_at: str = ""
    resource_version: str = ""
    values_source: ValuesSource | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Application:
        spec, status = data.get("spec") or {}, data.get("status") or {}
        source = spec.get("source") or ((spec.get("sources") or [{}])[0])
        op = status.get("operationState")
        operation = None
        if isinstance(op, dict) and op.get("phase"):
            operation = OperationState(
                phase=_s(op, "phase"),
                message=_s(op, "message"),
                revision=_s(op, "syncResult", "revision")
                or ",".join(_d(op, "syncResult", "revisions") or [])
                or _s(op, "operation", "sync", "revision"),
                started_at=_s(op, "startedAt"),
                finished_at=_s(op, "finishedAt"),
            )
        by = _d(status, "history") or []
        history = tuple(
            HistoryEntry(
                id=_i(h, "id"),
                revision=_s(h, "revision") or ",".join(h.get("revisions") or []),
                deployed_at=_s(h, "deployedAt"),
                deploy_started_at=_s(h, "deployStartedAt"),
                initiated_by=_s(h, "initiatedBy", "username")
                or ("automated" if _d(h, "initiatedBy", "automated") else ""),
            )
            for h in by
            if isinstance(h, dict)
        )
        resources = tuple(
            ResourceStatus(
                group=_s(r, "group"),
                kind=_s(r, "kind"),
                namespace=_s(r, "namespace"),
                name=_s(r, "name"),
                version=_s(r, "version"),
                status=_s(r, "status"),
                health=_s(r, "health", "status"),
                health_message=_s(r, "health", "message"),
            )
            for r in status.get("resources") or []
            if isinstance(r, dict)
        )
        return cls(
            name=_s(data, "metadata", "name"),
            namespace=_s(data, "metadata", "namespace"),
            project=_s(spec, "project"),
            repo_url=_s(source, "repoURL"),
            path=_s(source, "path"),
            target_revision=_s(source, "targetRevision") or "HEAD",
            dest_namespace=_s(spec, "destination", "namespace"),
            auto_sync=isinstance(_d(spec, "syncPolicy", "automated"), dict)
            and _d(spec, "syncPolicy", "automated", "enabled") is not False,
            sync_status=_s(status, "sync", "status") or "Unknown",
            revision=_s(status, "sync", "revision")
            or ",".join(_d(status, "sync", "revisions") or []),
            health=_s(status, "health", "status") or "Unknown",
            health_message=_s(status, "health", "message"),
            operation_running=bool(data.get("operation")),
            operation=operation,
            history=history,
            resources=resources,
            images=tuple(_d(status, "summary", "images") or ()),
            conditions=tuple(
                f"{_s(c, 'type')}: {_s(c, 'message')}"
                for c in status.get("conditions") or []
                if isinstance(c, dict)
            ),
            reconciled_at=_s(status, "reconciledAt"),
            resource_version=_s(data, "metadata", "resourceVersion"),
            values_source=_values_source(spec),
        )

    @property
    def branch(self) -> str | None:
        """The branch its source follows (None for the remote's HEAD)."""
        return None if self.target_revision in ("", "HEAD") else self.target_revision

    def resource(self, kind: str, name: str | None = None) -> ResourceStatus | None:
        for res in self.resources:
            if res.kind == kind and (name is None or res.name == name):
                return res
        return None


@dataclass(frozen=True)
class TreeNode:
    group: str
    version: str
    kind: str
    namespace: str
    name: str
    uid: str = ""
    parents: tuple[str, ...] = ()
    info: dict[str, str] = field(default_factory=dict)
    health: str = ""
    health_message: str = ""
    images: tuple[str, ...] = ()
    created_at: str = ""
    resource_version: str = ""

    @classmethod
    def from_json(cls, n: dict[str, Any]) -> TreeNode:
        return cls(
            group=_s(n, "group"),
            version=_s(n, "version"),
            kind=_s(n, "kind"),
            namespace=_s(n, "namespace"),
            name=_s(n, "name"),
            uid=_s(n, "uid"),
            parents=tuple(_s(p, "uid") for p in n.get("parentRefs") or [] if isinstance(p, dict)),
            info={
                _s(i, "name"): _s(i, "value") for i in n.get("info") or [] if isinstance(i, dict)
            },
            health=_s(n, "health", "status"),
            health_message=_s(n, "health", "message"),
            images=tuple(n.get("images") or ()),
            created_at=_s(n, "createdAt"),
            resource_version=_s(n, "resourceVersion"),
        )


@dataclass(frozen=True)
class ResourceTree:
    nodes: tuple[TreeNode, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResourceTree:
        return cls(
            tuple(TreeNode.from_json(n) for n in data.get("nodes") or [] if isinstance(n, dict))
        )

    def of_kind(self, kind: str) -> list[TreeNode]:
        return [n for n in self.nodes if n.kind == kind]

    def children(self, parent: TreeNode, kind: str | None = None) -> list[TreeNode]:
        return [
            n
            for n in self.nodes
            if parent.uid and parent.uid in n.parents and (kind is None or n.kind == kind)
        ]


@dataclass(frozen=True)
class AnalysisStatus:
    """``status.blueGreen.pre/postPromotionAnalysisRunStatus``: the run the Rollout waits on."""

    name: str
    phase: str = ""
    message: str = ""

    @classmethod
    def from_json(cls, data: Any) -> AnalysisStatus | None:
        if not isinstance(data, dict) or not data.get("name"):
            return None
        return cls(_s(data, "name"), _s(data, "status"), _s(data, "message"))


@dataclass(frozen=True)
class Rollout:
    """The live Rollout object (``GET .../resource?kind=Rollout`` manifest), as a release reads it."""

    name: str
    namespace: str
    generation: int = 0
    observed_generation: int = 0
    observed_hash: bool = False
    """``status.observedGeneration`` is a pod-template hash (v0.9): always observed."""
    phase: str = ""
    message: str = ""
    paused: bool = False
    pause_reasons: tuple[str, ...] = ()
    controller_pause: bool = False
    aborted: bool = False
    promote_full: bool = False
    restart_at: str = ""
    current_pod_hash: str = ""
    stable_rs: str = ""
    active_selector: str = ""
    preview_selector: str = ""
    replicas: int = 1
    preview_replica_count: int | None = None
    auto_promotion: bool = True
    active_service: str = ""
    preview_service: str = ""
    strategy: str = "BlueGreen"
    images: tuple[str, ...] = ()
    status_replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    created_at: str = ""
    conditions: tuple[tuple[str, str, str], ...] = ()
    """(type, reason, message) of each condition."""
    pre_analysis: AnalysisStatus | None = None
    post_analysis: AnalysisStatus | None = None
    pre_analysis_wanted: bool = False
    post_analysis_wanted: bool = False

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Rollout:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        bg = _d(spec, "strategy", "blueGreen")
        containers = _d(spec, "template", "spec", "containers") or []
        preview_count = _d(bg, "previewReplicaCount")
        phase, message = rollout_phase.phase_of(spec, status)
        return cls(
            name=_s(obj, "metadata", "name"),
            namespace=_s(obj, "metadata", "namespace"),
            generation=_i(obj, "metadata", "generation"),
            observed_generation=_i(status, "observedGeneration"),
            observed_hash=rollout_phase.is_hash(status.get("observedGeneration")),
            phase=phase,
            message=message,
            paused=bool(spec.get("paused")),
            pause_reasons=tuple(
                _s(p, "reason") for p in status.get("pauseConditions") or [] if isinstance(p, dict)
            ),
            controller_pause=bool(status.get("controllerPause")),
            aborted=bool(status.get("abort")),
            promote_full=bool(status.get("promoteFull")),
            restart_at=_s(spec, "restartAt"),
            current_pod_hash=_s(status, "currentPodHash"),
            stable_rs=_s(status, "stableRS"),
            active_selector=_s(status, "blueGreen", "activeSelector"),
            preview_selector=_s(status, "blueGreen", "previewSelector"),
            replicas=_i(spec, "replicas") if "replicas" in spec else 1,
            preview_replica_count=int(preview_count) if preview_count is not None else None,
            auto_promotion=_d(bg, "autoPromotionEnabled") is not False,
            active_service=_s(bg, "activeService"),
            preview_service=_s(bg, "previewService"),
            strategy="BlueGreen" if isinstance(bg, dict) else "Canary",
            images=tuple(_s(c, "image") for c in containers if isinstance(c, dict)),
            status_replicas=_i(status, "replicas"),
            updated_replicas=_i(status, "updatedReplicas"),
            ready_replicas=_i(status, "readyReplicas"),
            available_replicas=_i(status, "availableReplicas"),
            created_at=_s(obj, "metadata", "creationTimestamp"),
            conditions=tuple(
                (_s(c, "type"), _s(c, "reason"), _s(c, "message"))
                for c in status.get("conditions") or []
                if isinstance(c, dict)
            ),
            pre_analysis=AnalysisStatus.from_json(
                _d(status, "blueGreen", "prePromotionAnalysisRunStatus")
            ),
            post_analysis=AnalysisStatus.from_json(
                _d(status, "blueGreen", "postPromotionAnalysisRunStatus")
            ),
            pre_analysis_wanted=bool(_d(bg, "prePromotionAnalysis")),
            post_analysis_wanted=bool(_d(bg, "postPromotionAnalysis")),
        )

    @property
    def fully_promoted(self) -> bool:
        return bool(self.current_pod_hash) and self.stable_rs == self.current_pod_hash

    @property
    def observed(self) -> bool:
        return self.observed_hash or self.observed_generation >= self.generation

    @property
    def preview_wanted(self) -> int:
        return (
            self.preview_replica_count if self.preview_replica_count is not None else self.replicas
        )


@dataclass(frozen=True)
class ReplicaSet:
    """A live ReplicaSet owned by the Rollout."""

    name: str
    namespace: str = ""
    pod_hash: str = ""
    revision: int = 0
    replicas: int = 0
    """spec.replicas: 0 means scaled down."""
    available: int = 0
    ready: int = 0
    images: tuple[str, ...] = ()
    scale_down_deadline: str = ""
    created_at: str = ""

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ReplicaSet:
        annotations = _d(obj, "metadata", "annotations") or {}
        containers = _d(obj, "spec", "template", "spec", "containers") or []
        return cls(
            name=_s(obj, "metadata", "name"),
            namespace=_s(obj, "metadata", "namespace"),
            pod_hash=_s(obj, "metadata", "labels", "rollouts-pod-template-hash"),
            revision=int(annotations.get("rollout.argoproj.io/revision") or 0),
            replicas=_i(obj, "spec", "replicas"),
            available=_i(obj, "status", "availableReplicas"),
            ready=_i(obj, "status", "readyReplicas"),
            images=tuple(_s(c, "image") for c in containers if isinstance(c, dict)),
            scale_down_deadline=str(
                annotations.get("argo-rollouts.argoproj.io/scale-down-deadline") or ""
            ),
            created_at=_s(obj, "metadata", "creationTimestamp"),
        )


@dataclass(frozen=True)
class Measurement:
    phase: str = ""
    value: str = ""
    message: str = ""
    finished_at: str = ""


@dataclass(frozen=True)
class MetricResult:
    """One metric of an AnalysisRun: its spec (conditions, limits) and its results so far."""

    name: str
    phase: str = ""
    success_condition: str = ""
    failure_condition: str = ""
    count: int = 0
    """spec ``count``: 0 means measure until the run ends."""
    measured: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    message: str = ""
    last: Measurement | None = None


@dataclass(frozen=True)
class AnalysisRun:
    """A live AnalysisRun (``GET .../resource?kind=AnalysisRun``), as ``kubectl argo rollouts get``
    reads it (``info/analysisrun_info.go``): phase, revision, counts, each metric's last value.
    Credentials in its providers are registered as secrets as it is read (:func:`provider_secrets`)."""

    name: str
    namespace: str = ""
    revision: int = 0
    phase: str = ""
    message: str = ""
    rollout_type: str = ""
    """``rollout-type`` label: PrePromotion, PostPromotion, Background."""
    pod_hash: str = ""
    """The ReplicaSet it measures (``rollouts-pod-template-hash`` label)."""
    created_at: str = ""
    metrics: tuple[MetricResult, ...] = ()

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> AnalysisRun:
        meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status")
        status = status if isinstance(status, dict) else {}
        results = {
            _s(r, "name"): r for r in status.get("metricResults") or [] if isinstance(r, dict)
        }
        metrics = []
        for m in spec.get("metrics") or []:
            if not isinstance(m, dict):
                continue
            for secret in provider_secrets(m.get("provider")):
                register_secret(secret)  # a measurement or message may echo it
            r = results.get(_s(m, "name")) or {}
            taken = [x for x in r.get("measurements") or [] if isinstance(x, dict)]
            last = taken[-1] if taken else None
            metrics.append(
                MetricResult(
                    name=_s(m, "name"),
                    phase=_s(r, "phase"),
                    success_condition=_s(m, "successCondition"),
                    failure_condition=_s(m, "failureCondition"),
                    count=_i(m, "count"),
                    measured=_i(r, "count"),
                    successful=_i(r, "successful"),
                    failed=_i(r, "failed"),
                    inconclusive=_i(r, "inconclusive"),
                    error=_i(r, "error"),
                    message=_s(r, "message"),
                    last=Measurement(
                        phase=_s(last, "phase"),
                        value=_s(last, "value"),
                        message=_s(last, "message"),
                        finished_at=_s(last, "finishedAt"),
                    )
                    if last is not None
                    else None,
                )
            )
        revision = _s(meta, "annotations", "rollout.argoproj.io/revision")
        return cls(
            name=_s(meta, "name"),
            namespace=_s(meta, "namespace"),
            revision=int(revision) if revision.isdigit() else 0,
            phase=_s(status, "phase"),
            message=_s(status, "message"),
            rollout_type=_s(meta, "labels", "rollout-type"),
            pod_hash=_s(meta, "labels", "rollouts-pod-template-hash"),
            created_at=_s(meta, "creationTimestamp"),
            metrics=tuple(metrics),
        )

    def total(self, what: str) -> int:
        """Sum of ``successful``/``failed``/``inconclusive``/``error`` over the metrics."""
        return sum(int(getattr(m, what)) for m in self.metrics)


@dataclass(frozen=True)
class ResourceRef:
    kind: str
    name: str
    namespace: str
    group: str = "argoproj.io"
    version: str = "v1alpha1"

    def params(self) -> dict[str, str]:
        return {
            "namespace": self.namespace,
            "resourceName": self.name,
            "group": self.group,
            "version": self.version,
            "kind": self.kind,
        }


def find_rollout(
    app: Application, tree: ResourceTree | None = None, name: str | None = None
) -> ResourceRef:
    """The app's Rollout: the only one, or the one named ``--rollout NAME``."""
    found = {
        (r.namespace or app.dest_namespace, r.name) for r in app.resources if r.kind == "Rollout"
    }
    if tree is not None:
        found |= {(n.namespace, n.name) for n in tree.of_kind("Rollout")}
    if name:
        match = sorted(f for f in found if f[1] == name)
        if not match:
            have = ", ".join(sorted(n for _, n in found)) or "none"
            raise UsageError(
                f"application {app.name} has no Rollout named {name} (it has: {have})",
                hint="check --rollout",
            )
        return ResourceRef("Rollout", name, match[0][0])
    if not found:
        raise UsageError(
            f"application {app.name} manages no Rollout",
            hint="check the app name, or that its manifests contain a kind: Rollout",
        )
    if len(found) > 1:
        names = ", ".join(sorted(n for _, n in found))
        raise UsageError(
            f"application {app.name} has several Rollouts: {names}", hint="pass --rollout NAME"
        )
    namespace, only = next(iter(found))
    return ResourceRef("Rollout", only, namespace)


def _values_source(spec: dict[str, Any]) -> ValuesSource | None:
    found = values_source(spec)
    if found is None:
        return None
    index, source, files = found
    return ValuesSource(index, _s(source, "repoURL"), _s(source, "targetRevision") or "HEAD", files)


def values_source(spec: dict[str, Any]) -> tuple[int, dict[str, Any], tuple[str, ...]] | None:
    """Multi-source: the ``ref`` source whose files a chart reads as ``$ref/...`` values files
    (the last such file decides which ref): its index in ``spec.sources``, the source, and
    those files' paths in it. None for a single source, or when no values file names a ref."""
    sources = spec.get("sources") or []
    refs = {str(s["ref"]): i for i, s in enumerate(sources) if isinstance(s, dict) and s.get("ref")}
    for source in sources:
        if not isinstance(source, dict):
            continue
        files = [str(f) for f in (source.get("helm") or {}).get("valueFiles") or []]
        split = [f[1:].partition("/") for f in files if f.startswith("$")]
        named = [(ref, rest) for ref, _, rest in split if ref in refs]
        if named:
            last = named[-1][0]
            index = refs[last]
            return index, sources[index], tuple(rest for ref, rest in named if ref == last)
    return None
