"""The Argo CD application controller: compare Git with the cluster, run sync operations,
auto-sync on the poll (180 s of controller time) or at once after a refresh.

All methods that touch state run under the sandbox lock; git fetches happen outside it.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from typing import Any

from gitops_release.sandbox.appstate import (
    NAMESPACE,
    App,
    comparable,
    resource_entry,
    wire_health,
)
from gitops_release.sandbox.clock import Clock, rfc3339
from gitops_release.sandbox.cluster import Cluster, key_of
from gitops_release.sandbox.gitsource import GitSource, SourceError
from gitops_release.sandbox.health import worst
from gitops_release.sandbox.kube import is_subset, new_uid
from gitops_release.sandbox.manifests import ManifestError, images_of
from gitops_release.sandbox.operations import Operations
from gitops_release.sandbox.render import Tools, find_tools
from gitops_release.sandbox.wire import (
    INVALID_ARGUMENT,
    NOT_FOUND,
    PERMISSION_DENIED,
    GrpcError,
)


class AppController(Operations):
    def __init__(
        self,
        cluster: Cluster,
        git: GitSource,
        clock: Clock,
        lock: threading.Condition,
        poll_seconds: float = 180.0,
        tools: Tools | None = None,
    ) -> None:
        self.cluster, self.git, self.clock, self.lock = cluster, git, clock, lock
        self.tools = tools or find_tools(os.environ)
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
            snapshot = App(copy.deepcopy(app.obj))
        shas: list[str] = []
        try:
            if snapshot.multi_source:
                sources = snapshot.spec.get("sources") or []
                shas = self._source_shas(sources, [], fetch=True)
                desired, kind, sha = self._render_sources(snapshot, sources, shas)
            else:
                mirror = self.git.fetch(str(source.get("repoURL", "")))
                sha = self.git.resolve(mirror, str(source.get("targetRevision") or "HEAD"))
                desired, kind = self._render(mirror, sha, source, snapshot)
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
                app.revisions = shas

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
            synced = live is not None and is_subset(comparable(obj), live)
            resources.append(resource_entry(obj, key, "Synced" if synced else "OutOfSync"))
            if live is None:
                app.health[key] = {"status": "Missing"}
                continue
            live_count += 1
            health = self.cluster.health(key)
            if health is not None:
                app.health[key] = wire_health(health)
                healths.append(health["status"])
        for key, owned in self.cluster.objects.items():
            if owned.app == app.name and key not in desired_keys:
                entry = resource_entry(owned.manifest, key, "OutOfSync")
                entry["requiresPruning"] = True
                resources.append(entry)
        if app.error or app.fetched_at == float("-inf"):  # not compared with Git yet
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
        destination = app.spec.get("destination") or {}
        sync: dict[str, Any] = {
            "status": sync_status,
            "comparedTo": {"source": app.source, "destination": destination},
        }
        if app.multi_source:  # controller/state.go: revisions, one per source, and no revision
            sync["comparedTo"] = {"sources": app.spec["sources"], "destination": destination}
            if app.revisions:
                sync["revisions"] = app.revisions
        elif app.revision:
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

    # requests ----------------------------------------------------------------------------
    def create(self, obj: dict[str, Any], *, upsert: bool) -> App:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name:
            raise GrpcError(INVALID_ARGUMENT, "application name is required")
        spec = obj.get("spec") or {}
        if not (spec.get("source") or {}).get("repoURL") and not all(
            isinstance(src, dict) and src.get("repoURL") for src in spec.get("sources") or [None]
        ):
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

    def delete(self, name: str, cascade: bool) -> None:
        self.apps.pop(name, None)
        for key, live in list(self.cluster.objects.items()):
            if live.app == name:
                if cascade:
                    self.cluster.delete(key)
                else:
                    live.app = ""
