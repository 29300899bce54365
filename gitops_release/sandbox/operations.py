"""Argo CD operations: sync, rollback and terminate requests, auto-sync, and running an
operation to its end (apply, wait for health when the sync has several waves or hooks, history).

A mixin of :class:`~gitops_release.sandbox.applications.AppController`; runs under its lock.
"""

from __future__ import annotations

from typing import Any

from gitops_release.sandbox.appstate import NAMESPACE, App
from gitops_release.sandbox.clock import Clock, rfc3339
from gitops_release.sandbox.cluster import Cluster, key_of
from gitops_release.sandbox.gitsource import GitSource, SourceError
from gitops_release.sandbox.kube import api_group
from gitops_release.sandbox.manifests import ManifestError, images_of
from gitops_release.sandbox.render import Tools, render
from gitops_release.sandbox.wire import FAILED_PRECONDITION, INVALID_ARGUMENT, GrpcError

SYNC_SECONDS = 2.0  # controller time a sync operation stays Running
HOOK = "argocd.argoproj.io/hook"
WAVE = "argocd.argoproj.io/sync-wave"


class Operations:
    cluster: Cluster
    git: GitSource
    clock: Clock
    tools: Tools

    def events(self, line: str) -> None:
        """Hook: the sandbox logs operation results on stderr (``sandbox up``)."""

    def _render(
        self, mirror: Any, sha: str, source: dict[str, Any], app: App
    ) -> tuple[list[dict[str, Any]], str]:
        """What the repo-server would render for ``source`` at ``sha`` (``sandbox.render``)."""
        files = self.git.read_tree(mirror, sha, ".")
        refs = {}
        for ref in app.ref_sources:
            ref_mirror = self.git.fetch(str(ref.get("repoURL", "")))
            ref_sha = self.git.resolve(ref_mirror, str(ref.get("targetRevision") or "HEAD"))
            refs[str(ref["ref"])] = self.git.read_tree(ref_mirror, ref_sha, ".")
        return render(self.tools, source, files, app=app.name, namespace=app.namespace, refs=refs)

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
            desired, _ = self._render(mirror, sha, source, app)
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
        self.events(f"{app.name}: sync to {str(sync.get('revision', ''))[:12]} {phase}: {message}")
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


def _multi_step(objects: list[dict[str, Any]]) -> bool:
    """gitops-engine syncTasks.multiStep: more than one wave, or any hook."""
    waves, hooks = set(), False
    for obj in objects:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        hooks = hooks or HOOK in annotations
        waves.add(str(annotations.get(WAVE, "0")))
    return hooks or len(waves) > 1
