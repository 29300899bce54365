"""The Argo CD application controller: compare Git with the cluster, run sync operations,
auto-sync on the poll (180 s of controller time) or at once after a refresh.

All methods that touch state run under the sandbox lock; git fetches happen outside it.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from gitops_release.sandbox.clock import Clock, rfc3339
from gitops_release.sandbox.cluster import Cluster, Key, key_of
from gitops_release.sandbox.gitsource import GitSource, SourceError
from gitops_release.sandbox.health import worst
from gitops_release.sandbox.kube import api_group, is_subset, new_uid
from gitops_release.sandbox.manifests import ManifestError, generate, images_of, source_type
from gitops_release.sandbox.wire import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    NOT_FOUND,
    PERMISSION_DENIED,
    GrpcError,
)

NAMESPACE = "argocd"
SYNC_SECONDS = 2.0  # controller time a sync operation stays Running
HOOK = "argocd.argoproj.io/hook"
WAVE = "argocd.argoproj.io/sync-wave"


@dataclass
class App:
    obj: dict[str, Any]
    desired: list[dict[str, Any]] = field(default_factory=list)
    revision: str = ""
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
        return self.spec.get("source") or {}

    @property
    def namespace(self) -> str:
        return str((self.spec.get("destination") or {}).get("namespace") or "default")

    @property
    def status(self) -> dict[str, Any]:
        return self.obj.setdefault("status", {})  # type: ignore[no-any-return]


class AppController:
    def __init__(
        self,
        cluster: Cluster,
        git: GitSource,
        clock: Clock,
        lock: threading.Condition,
        poll_seconds: float = 180.0,
    ) -> None:
        self.cluster, self.git, self.clock, self.lock = cluster, git, clock, lock
        self.poll_seconds = poll_seconds
        self.apps: dict[str, App] = {}
        self.stamp = 1

    # lookups -----------------------------------------------------------------------------
    def find(self, name: str, project: str = "") -> App:
        """getAppEnforceRBAC: a missing app is 403 without ``project``, 404 with it."""
        app = self.apps.get(name)
        if app is None or (project and app.spec.get("project") != project):
            if project:
                raise GrpcError(NOT_FOUND, f'applications.argoproj.io "{name}" not found')
            raise GrpcError(PERMISSION_DENIED, "permission denied")
        return app

    def view(self, app: App, *, with_health: bool = True) -> dict[str, Any]:
        obj = copy.deepcopy(app.obj)
        # served from the informer cache: TypeMeta is empty, so omitted (not in the swagger either)
        obj.pop("apiVersion", None)
        obj.pop("kind", None)
        obj["metadata"]["resourceVersion"] = str(app.stamp)
        if obj.get("operation") is None:
            obj.pop("operation", None)
        if with_health:
            for res in obj.get("status", {}).get("resources", []):
                key = (res.get("group", ""), res["kind"], res.get("namespace", ""), res["name"])
                if key in app.health:
                    res["health"] = app.health[key]
        return obj

    # source ------------------------------------------------------------------------------
    def load_source(self, name: str) -> None:
        """Fetch and render the app's source at targetRevision (git outside the lock)."""
        with self.lock:
            app = self.apps.get(name)
            if app is None:
                return
            source = copy.deepcopy(app.source)
        try:
            mirror = self.git.fetch(str(source.get("repoURL", "")))
            sha = self.git.resolve(mirror, str(source.get("targetRevision") or "HEAD"))
            desired, kind = self._render(mirror, sha, source)
            error = ""
        except (SourceError, ManifestError) as err:
            sha, desired, kind, error = "", [], "Directory", str(err)
        with self.lock:
            app = self.apps.get(name)
            if app is None or app.source != source:
                return
            app.fetched_at = self.clock.seconds()
            app.error = error
            if not error:
                app.revision, app.desired, app.kind = sha, desired, kind

    def _render(
        self, mirror: Any, sha: str, source: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], str]:
        files = self.git.read_tree(mirror, sha, str(source.get("path") or "."))
        directory = source.get("directory") or {}
        images = (source.get("kustomize") or {}).get("images") or []
        return generate(files, recurse=bool(directory.get("recurse")), images=images), source_type(
            files
        )

    def due(self) -> list[str]:
        now = self.clock.seconds()
        return [n for n, a in self.apps.items() if now - a.fetched_at >= self.poll_seconds]

    # reconcile ---------------------------------------------------------------------------
    def reconcile(self, app: App) -> None:
        """CompareAppState + health + auto-sync + the running operation (under the lock)."""
        now = self.clock.seconds()
        self._run_operation(app, now)
        self._compare(app, now)
        self._auto_sync(app)
        fingerprint = json.dumps(app.obj, sort_keys=True, default=str) + json.dumps(
            sorted((str(k), v) for k, v in app.health.items())
        )
        if fingerprint != app.fingerprint:
            app.fingerprint = fingerprint
            self.stamp += 1
            app.stamp = self.stamp

    def _compare(self, app: App, now: float) -> None:
        status = app.status
        resources, healths, live_count = [], [], 0
        app.health = {}
        desired_keys = set()
        for obj in app.desired:
            key = key_of(obj, app.namespace)
            desired_keys.add(key)
            live = self.cluster.live_object(key)
            synced = live is not None and is_subset(_comparable(obj), live)
            resources.append(_resource(obj, key, "Synced" if synced else "OutOfSync"))
            if live is None:
                app.health[key] = {"status": "Missing"}
                continue
            live_count += 1
            health = self.cluster.health(key)
            if health is not None:
                app.health[key] = _wire_health(health)
                healths.append(health["status"])
        for key, owned in self.cluster.objects.items():
            if owned.app == app.name and key not in desired_keys:
                entry = _resource(owned.manifest, key, "OutOfSync")
                entry["requiresPruning"] = True
                resources.append(entry)
        if app.error:
            sync_status = "Unknown"
        else:
            sync_status = (
                "OutOfSync" if any(r["status"] != "Synced" for r in resources) else "Synced"
            )
        health_status = worst(healths) if live_count or not app.desired else "Missing"
        previous = status.get("health") or {}
        status["health"] = {
            "status": health_status,
            "lastTransitionTime": previous.get("lastTransitionTime")
            if previous.get("status") == health_status
            else rfc3339(self.clock.now()),
        }
        sync: dict[str, Any] = {
            "status": sync_status,
            "comparedTo": {"source": app.source, "destination": app.spec.get("destination") or {}},
        }
        if app.revision:
            sync["revision"] = app.revision
        status["sync"] = sync
        status["resources"] = resources
        status["sourceType"] = app.kind
        status["resourceHealthSource"] = "appTree"
        status["controllerNamespace"] = NAMESPACE
        images = sorted({i for o in app.desired for i in images_of(o)})
        status["summary"] = {"images": images} if images else {}
        if app.error:
            message = f"Failed to load target state: {app.error}"
            previous_conditions = status.get("conditions") or [{}]
            since = previous_conditions[0].get("lastTransitionTime")
            if previous_conditions[0].get("message") != message:
                since = rfc3339(self.clock.now())
            status["conditions"] = [
                {"type": "ComparisonError", "message": message, "lastTransitionTime": since}
            ]
        else:
            status.pop("conditions", None)
        # reconciledAt moves when the controller really compared: after a fetch (poll, refresh)
        # or when the result changed; not on every tick, or watchers would see a flood.
        snapshot = json.dumps(
            [
                {k: v for k, v in status.items() if k != "reconciledAt"},
                sorted(map(str, app.health.items())),
            ],
            sort_keys=True,
            default=str,
        )
        if snapshot != app.snapshot or app.fetched_at != app.compared_fetch:
            status["reconciledAt"] = rfc3339(self.clock.now())
            app.snapshot, app.compared_fetch = snapshot, app.fetched_at

    def _auto_sync(self, app: App) -> None:
        policy = (app.spec.get("syncPolicy") or {}).get("automated")
        if policy is None or policy.get("enabled") is False or app.error:
            return
        if app.obj.get("operation") or app.status["sync"]["status"] != "OutOfSync":
            return
        last = app.status.get("operationState") or {}
        attempted = {
            (last.get("syncResult") or {}).get("revision"),
            ((last.get("operation") or {}).get("sync") or {}).get("revision"),
        }
        if app.revision in attempted and (
            not policy.get("selfHeal") or last.get("phase") != "Succeeded"
        ):
            return
        sync: dict[str, Any] = {"revision": app.revision}
        if policy.get("prune"):
            sync["prune"] = True
        options = (app.spec.get("syncPolicy") or {}).get("syncOptions")
        if options:
            sync["syncOptions"] = options
        app.obj["operation"] = {"sync": sync, "initiatedBy": {"automated": True}, "retry": {}}

    def _run_operation(self, app: App, now: float) -> None:
        operation = app.obj.get("operation")
        state = app.status.get("operationState")
        if operation is None:
            return
        if state is None or state.get("operation") is not operation:
            app.status["operationState"] = state = {
                "operation": operation,
                "phase": "Running",
                "message": "one or more tasks are running",
                "startedAt": rfc3339(self.clock.now()),
            }
            app.op_started = now
            return
        if state["phase"] == "Terminating":
            self._finish(app, "Failed", "Operation terminated")
            return
        if now < app.op_started + SYNC_SECONDS or now < app.hold_until:
            return
        if app.fail_syncs and "syncResult" not in state:
            app.fail_syncs -= 1  # fault injection: the apply is refused
            self._finish(
                app, "Failed", f"one or more objects failed to apply, reason: {app.fail_message}"
            )
            return
        if "syncResult" not in state:
            self._apply(app, state)
        if state["phase"] != "Running":
            return
        waiting = self._waiting_for(app, state)
        if waiting is None:
            message = "successfully synced (all tasks run)"
            self._finish(app, "Succeeded", message)
        elif waiting.startswith("failed:"):
            self._finish(
                app, "Failed", "one or more synchronization tasks completed unsuccessfully"
            )
        else:
            state["message"] = waiting

    def _apply(self, app: App, state: dict[str, Any]) -> None:
        sync = state["operation"].get("sync") or {}
        source = sync.get("source") or app.source
        revision = str(sync.get("revision") or app.revision)
        try:
            mirror = self.git.mirror(str(source.get("repoURL", "")))
            sha = self.git.resolve(mirror, revision or str(source.get("targetRevision") or "HEAD"))
            desired, _ = self._render(mirror, sha, source)
        except (SourceError, ManifestError) as err:
            self._finish(app, "Error", f"ComparisonError: {err}")
            return
        wanted = [
            (r.get("group", ""), r.get("kind"), r.get("name")) for r in sync.get("resources") or []
        ]
        results = []
        for obj in desired:
            key = key_of(obj, app.namespace)
            if wanted and (key[0], key[1], key[3]) not in wanted:
                continue
            group, version = api_group(str(obj.get("apiVersion", "")))
            if sync.get("dryRun"):
                verb = (
                    "configured (dry run)" if self.cluster.objects.get(key) else "created (dry run)"
                )
            else:
                verb = self.cluster.apply(obj, namespace=app.namespace, app=app.name)
            kind_name = f"{key[1].lower()}{'.' + group if group else ''}/{key[3]}"
            result: dict[str, Any] = {
                "group": group,
                "version": version,
                "kind": key[1],
                "namespace": key[2],
                "name": key[3],
                "status": "Synced",
                "message": f"{kind_name} {verb}",
                "hookPhase": "Running",
                "syncPhase": "Sync",
            }
            if images_of(obj):
                result["images"] = images_of(obj)
            results.append(result)
        if sync.get("prune") and not sync.get("dryRun") and not wanted:
            keep = {key_of(o, app.namespace) for o in desired}
            for key, live in list(self.cluster.objects.items()):
                if live.app == app.name and key not in keep:
                    self.cluster.delete(key)
                    results.append(
                        {
                            "group": key[0],
                            "version": "v1",
                            "kind": key[1],
                            "namespace": key[2],
                            "name": key[3],
                            "status": "Pruned",
                            "message": "pruned",
                            "hookPhase": "Succeeded",
                            "syncPhase": "Sync",
                        }
                    )
        self.cluster.reconcile()
        state["syncResult"] = {"resources": results, "revision": sha, "source": source}
        app.multi_step = _multi_step(desired) and not sync.get("dryRun")

    def _waiting_for(self, app: App, state: dict[str, Any]) -> str | None:
        if not app.multi_step:
            return None
        for res in state["syncResult"]["resources"]:
            key = (res["group"], res["kind"], res["namespace"], res["name"])
            health = self.cluster.health(key)
            if health is None or health["status"] == "Healthy":
                continue
            if health["status"] == "Degraded":
                return "failed:"
            kind = f"{res['group']}/{res['kind']}" if res["group"] else res["kind"]
            return f"waiting for healthy state of {kind}/{res['name']}"
        return None

    def _finish(self, app: App, phase: str, message: str) -> None:
        state = app.status["operationState"]
        app.multi_step = False
        state.update(phase=phase, message=message, finishedAt=rfc3339(self.clock.now()))
        operation = state["operation"]
        sync = operation.get("sync") or {}
        if phase == "Succeeded" and not sync.get("dryRun"):
            history = app.status.setdefault("history", [])
            history.append(
                {
                    "id": max((h["id"] for h in history), default=-1) + 1,
                    "revision": state["syncResult"]["revision"],
                    "source": state["syncResult"]["source"],
                    "deployStartedAt": state["startedAt"],
                    "deployedAt": state["finishedAt"],
                    "initiatedBy": operation.get("initiatedBy") or {},
                }
            )
            limit = int(app.spec.get("revisionHistoryLimit") or 10)
            del history[: max(0, len(history) - limit)]
        app.obj["operation"] = None
        app.hold_until = 0.0

    # requests ----------------------------------------------------------------------------
    def create(self, obj: dict[str, Any], *, upsert: bool) -> App:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name:
            raise GrpcError(INVALID_ARGUMENT, "application name is required")
        spec = obj.get("spec") or {}
        if not (spec.get("source") or {}).get("repoURL"):
            raise GrpcError(
                INVALID_ARGUMENT,
                f"application spec for {name} is invalid: InvalidSpecError: spec.source.repoURL and "
                "either spec.source.path, spec.source.chart, or spec.source.ref are required",
            )
        existing = self.apps.get(name)
        if existing is not None:
            same = existing.spec == spec and (existing.obj["metadata"].get("labels") or {}) == (
                meta.get("labels") or {}
            )
            if same:
                return existing
            if not upsert:
                raise GrpcError(
                    INVALID_ARGUMENT,
                    "existing application spec is different, use upsert flag to force update",
                )
            existing.obj["spec"] = copy.deepcopy(spec)
            for key in ("labels", "annotations"):
                if meta.get(key):
                    existing.obj["metadata"][key] = dict(meta[key])
            existing.obj["metadata"]["generation"] += 1
            existing.fetched_at = float("-inf")
            return existing
        app = App(
            obj={
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {
                    "name": name,
                    "namespace": NAMESPACE,
                    "uid": new_uid(),
                    "generation": 1,
                    "creationTimestamp": rfc3339(self.clock.now()),
                    **{k: dict(meta[k]) for k in ("labels", "annotations") if meta.get(k)},
                },
                "spec": copy.deepcopy(spec),
                "status": {},
            }
        )
        self.apps[name] = app
        return app

    def check_sync(self, app: App, body: dict[str, Any]) -> None:
        """The checks the API server makes before resolving the revision."""
        if app.obj.get("operation"):
            raise GrpcError(FAILED_PRECONDITION, "another operation is already in progress")
        target = str(app.source.get("targetRevision") or "HEAD")
        revision = str(body.get("revision") or "")
        policy = (app.spec.get("syncPolicy") or {}).get("automated")
        enabled = policy is not None and policy.get("enabled") is not False
        if enabled and not body.get("dryRun") and revision and revision != target:
            raise GrpcError(
                FAILED_PRECONDITION,
                f"Cannot sync to {revision}: auto-sync currently set to {target}",
            )

    def sync(self, app: App, body: dict[str, Any], user: str, resolved: str) -> None:
        self.check_sync(app, body)
        target = str(app.source.get("targetRevision") or "HEAD")
        revision = str(body.get("revision") or "")
        sync: dict[str, Any] = {"revision": resolved or revision or target}
        for name in ("prune", "dryRun", "resources"):
            if body.get(name):
                sync[name] = body[name]
        if body.get("strategy"):
            sync["syncStrategy"] = body["strategy"]
        if body.get("syncOptions"):
            sync["syncOptions"] = (body["syncOptions"] or {}).get("items") or []
        operation: dict[str, Any] = {"sync": sync, "initiatedBy": {"username": user}}
        operation["retry"] = body.get("retryStrategy") or {}
        if body.get("infos"):
            operation["info"] = body["infos"]
        app.obj["operation"] = operation
        app.status.pop("operationState", None)  # SetAppOperation resets it

    def rollback(self, app: App, body: dict[str, Any], user: str) -> None:
        if (app.spec.get("syncPolicy") or {}).get("automated") is not None:
            raise GrpcError(
                FAILED_PRECONDITION, "rollback cannot be initiated when auto-sync is enabled"
            )
        if app.obj.get("operation"):
            raise GrpcError(FAILED_PRECONDITION, "another operation is already in progress")
        wanted = body.get("id")
        entry = next((h for h in app.status.get("history", []) if h["id"] == wanted), None)
        if entry is None:
            raise GrpcError(
                INVALID_ARGUMENT,
                f"application {NAMESPACE}/{app.name} does not have deployment with id {wanted or 0}",
            )
        sync = {
            "revision": entry["revision"],
            "source": entry["source"],
            "syncStrategy": {"apply": {}},
        }
        for name in ("prune", "dryRun"):
            if body.get(name):
                sync[name] = True
        app.obj["operation"] = {"sync": sync, "initiatedBy": {"username": user}, "retry": {}}
        app.status.pop("operationState", None)

    def terminate(self, app: App) -> None:
        state = app.status.get("operationState")
        if not app.obj.get("operation") or state is None or state.get("phase") != "Running":
            raise GrpcError(
                INVALID_ARGUMENT, "Unable to terminate operation. No operation is in progress"
            )
        state["phase"] = "Terminating"

    def delete(self, name: str, cascade: bool) -> None:
        self.apps.pop(name, None)
        for key, live in list(self.cluster.objects.items()):
            if live.app == name:
                if cascade:
                    self.cluster.delete(key)
                else:
                    live.app = ""


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k not in ("status",)}
    meta = dict(out.get("metadata") or {})
    meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def _resource(obj: dict[str, Any], key: Key, status: str) -> dict[str, Any]:
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


def _wire_health(health: dict[str, str]) -> dict[str, str]:
    out = {"status": health["status"]}
    if health.get("message"):
        out["message"] = health["message"]
    return out


def _multi_step(objects: list[dict[str, Any]]) -> bool:
    """gitops-engine syncTasks.multiStep: more than one wave, or any hook."""
    waves, hooks = set(), False
    for obj in objects:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        hooks = hooks or HOOK in annotations
        waves.add(str(annotations.get(WAVE, "0")))
    return hooks or len(waves) > 1
