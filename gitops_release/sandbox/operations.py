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

    def _source_shas(
        self, sources: list[dict[str, Any]], requested: list[str], *, fetch: bool
    ) -> list[str]:
        """Multi-source: the commit of each source, at ``requested[i]`` or, where that is "",
        at its ``targetRevision``."""
        shas = []
        for index, source in enumerate(sources):
            url = str(source.get("repoURL", ""))
            mirror = self.git.fetch(url) if fetch else self.git.mirror(url)
            wanted = requested[index] if index < len(requested) else ""
            shas.append(
                self.git.resolve(mirror, wanted or str(source.get("targetRevision") or "HEAD"))
            )
        return shas

    def _render_sources(
        self, app: App, sources: list[dict[str, Any]], shas: list[str]
    ) -> tuple[list[dict[str, Any]], str, str]:
        """Multi-source: render the source that is more than a ``ref`` with the files of the
        ``ref`` sources at their commits; also returns the rendering source's commit."""
        index = next((i for i, s in enumerate(sources) if s.get("path") or s.get("chart")), 0)
        source = sources[index]
        files = self.git.read_tree(
            self.git.mirror(str(source.get("repoURL", ""))), shas[index], "."
        )
        refs = {
            str(s["ref"]): self.git.read_tree(
                self.git.mirror(str(s.get("repoURL", ""))), shas[i], "."
            )
            for i, s in enumerate(sources)
            if s.get("ref") and i != index
        }
        objects, kind = render(
            self.tools, source, files, app=app.name, namespace=app.namespace, refs=refs
        )
        return objects, kind, shas[index]

    def _auto_sync(self, app: App) -> None:
        policy = (app.spec.get("syncPolicy") or {}).get("automated")
        if policy is None or policy.get("enabled") is False or app.error:
            return
        if app.obj.get("operation") or app.status["sync"]["status"] != "OutOfSync":
            return
        last = app.status.get("operationState") or {}
        field = "revisions" if app.multi_source else "revision"
        current = app.revisions if app.multi_source else app.revision
        attempted = [
            (last.get("syncResult") or {}).get(field),
            ((last.get("operation") or {}).get("sync") or {}).get(field),
        ]
        if current in attempted and (
            not policy.get("selfHeal") or last.get("phase") != "Succeeded"
        ):
            return
        sync: dict[str, Any] = {field: current}
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
        sources = sync.get("sources") or app.spec.get("sources") or []
        revision = str(sync.get("revision") or app.revision)
        shas: list[str] = []
        try:
            if app.multi_source:
                requested = [str(r or "") for r in sync.get("revisions") or []]
                shas = self._source_shas(sources, requested, fetch=False)
                desired, _, sha = self._render_sources(app, sources, shas)
            else:
                mirror = self.git.mirror(str(source.get("repoURL", "")))
                target = revision or str(source.get("targetRevision") or "HEAD")
                sha = self.git.resolve(mirror, target)
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
        if app.multi_source:  # one revision per source (controller/sync.go)
            state["syncResult"] = {"resources": results, "revisions": shas, "sources": sources}
        else:
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
        shown = str(sync.get("revision") or "")[:12] or ",".join(
            r[:12] for r in sync.get("revisions") or []
        )
        self.events(f"{app.name}: sync to {shown} {phase}: {message}")
        if phase == "Succeeded" and not sync.get("dryRun"):
            history = app.status.setdefault("history", [])
            result = state["syncResult"]
            entry: dict[str, Any] = {"id": max((h["id"] for h in history), default=-1) + 1}
            if "revisions" in result:  # multi-source: revisions and sources, no revision
                entry.update(revisions=result["revisions"], sources=result["sources"])
            else:
                entry.update(revision=result["revision"], source=result["source"])
            entry.update(
                deployStartedAt=state["startedAt"],
                deployedAt=state["finishedAt"],
                initiatedBy=operation.get("initiatedBy") or {},
            )
            history.append(entry)
            limit = int(app.spec.get("revisionHistoryLimit") or 10)
            del history[: max(0, len(history) - limit)]
        app.obj["operation"] = None
        app.hold_until = 0.0

    def check_sync(self, app: App, body: dict[str, Any]) -> None:
        """The checks the API server makes before resolving the revision."""
        if app.obj.get("operation"):
            raise GrpcError(FAILED_PRECONDITION, "another operation is already in progress")
        policy = (app.spec.get("syncPolicy") or {}).get("automated")
        enabled = policy is not None and policy.get("enabled") is not False
        for revision, target, url in self.requested(app, body):
            if enabled and not body.get("dryRun") and revision and revision != target:
                what = f"source {url} " if app.multi_source else ""
                raise GrpcError(
                    FAILED_PRECONDITION,
                    f"Cannot sync {what}to {revision}: auto-sync currently set to {target}",
                )

    @staticmethod
    def requested(app: App, body: dict[str, Any]) -> list[tuple[str, str, str]]:
        """(revision asked for, targetRevision, repoURL) per source: ``revision`` for one
        source; for several, ``revisions`` at the 1-based ``sourcePositions``, and a bare
        ``revision`` is not read (server/application: resolveSourceRevisions)."""
        if not app.multi_source:
            target = str(app.source.get("targetRevision") or "HEAD")
            url = str(app.source.get("repoURL") or "")
            return [(str(body.get("revision") or ""), target, url)]
        sources = [s if isinstance(s, dict) else {} for s in app.spec.get("sources") or []]
        revisions = [str(r or "") for r in body.get("revisions") or []]
        positions = body.get("sourcePositions") or []
        if len(positions) != len(revisions):
            raise GrpcError(
                INVALID_ARGUMENT, "revisions and sourcePositions must have the same length"
            )
        wanted = [""] * len(sources)
        for position, revision in zip(positions, revisions, strict=True):
            if not isinstance(position, int) or not 1 <= position <= len(sources):
                raise GrpcError(INVALID_ARGUMENT, "source position is out of range")
            wanted[position - 1] = revision
        return [
            (w, str(s.get("targetRevision") or "HEAD"), str(s.get("repoURL") or ""))
            for w, s in zip(wanted, sources, strict=True)
        ]

    def sync(self, app: App, body: dict[str, Any], user: str, resolved: list[str]) -> None:
        """``resolved``: the commit of each source (of ``revision``, or per source of the
        revision asked for at its position, else of its targetRevision)."""
        self.check_sync(app, body)
        if app.multi_source:
            sync: dict[str, Any] = {"revisions": resolved}
        else:
            target = str(app.source.get("targetRevision") or "HEAD")
            revision = str(body.get("revision") or "")
            sync = {"revision": resolved[0] or revision or target}
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
        sync: dict[str, Any] = {"syncStrategy": {"apply": {}}}
        if "revisions" in entry:
            sync.update(revisions=entry["revisions"], sources=entry["sources"])
        else:
            sync.update(revision=entry["revision"], source=entry["source"])
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
