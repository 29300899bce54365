"""The Argo CD API server on real sockets: paths, verbs, JSON shapes and errors of v3.x.

Sources for every quirk are in ``reference/argo-api.md`` sections 0 and 1: bearer auth (401
``no session information``), 403 for a missing app without ``project=``, FailedPrecondition 400
"another operation is already in progress", the v1 action body as a bare JSON string, watch
streams as JSON lines or SSE, and ``?refresh=`` blocking until the app is reconciled.
"""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING, Any

from gitops_release.sandbox.actions import list_actions, run_action
from gitops_release.sandbox.appstate import App
from gitops_release.sandbox.argocd_streams import ArgoCDStreams
from gitops_release.sandbox.gitsource import SourceError
from gitops_release.sandbox.wire import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    UNAUTHENTICATED,
    UNKNOWN,
    GrpcError,
    route,
)

if TYPE_CHECKING:
    from gitops_release.sandbox.server import Sandbox

A = "/api/v1/applications"
# The resource-action API a server of each version offers, and the version it reports:
#   v2         3.1.5 and later: RunResourceAction (v1, bare JSON string) and RunResourceActionV2
#   v1-only    3.0 and older: no /resource/actions/v2 route (an unknown route: plain-text 404)
#   v1-broken  3.1.0 to 3.1.4: v1 forwards to v2 without the action (argo-cd#24490, fixed in
#              3.1.5 by #24500), so every v1 call fails with the Lua lookup error below
ACTIONS_API = {"v2": "v3.1.8+sandbox", "v1-only": "v3.0.23+sandbox", "v1-broken": "v3.1.4+sandbox"}


class ArgoCDHandler(ArgoCDStreams):
    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox  # type: ignore[attr-defined,no-any-return]

    @property
    def user(self) -> str:
        return "admin"

    def token(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "argocd.token":
                return value
        return None

    def authenticate(self) -> None:
        token = self.token()
        if not token:
            raise GrpcError(UNAUTHENTICATED, "no session information")
        reason = self.sandbox.auth.check(token)
        if reason:
            raise GrpcError(UNAUTHENTICATED, f"invalid session: {reason}")

    def before(self, path: str) -> bool:
        return self.sandbox.faults.before(self, path)

    def send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        """Argo CD compresses API answers when the client accepts gzip (--enable-gzip, default on)."""
        accepts = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if accepts and self.url.path.startswith("/api/") and "json" in content_type:
            body = gzip.compress(body)
            headers = {**(headers or {}), "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        super().send(status, body, content_type, headers)

    # version and session -----------------------------------------------------------------
    @route("GET", "/api/version")
    def version(self) -> None:
        token = self.token()
        if token and not self.sandbox.auth.check(token):
            self.json(
                200,
                {
                    "Version": ACTIONS_API[self.sandbox.actions_api],
                    "BuildDate": "2026-01-01T00:00:00Z",
                    "GitCommit": "0" * 40,
                    "GitTreeState": "clean",
                    "GoVersion": "go1.24",
                    "Compiler": "gc",
                    "Platform": "linux/amd64",
                    "KustomizeVersion": "v5.6.0",
                    "HelmVersion": "v3.17.0",
                },
            )
        else:
            self.json(200, {"Version": ACTIONS_API[self.sandbox.actions_api]})

    @route("POST", "/api/v1/session")
    def login(self) -> None:
        body = self.json_object()
        username, password = str(body.get("username") or ""), str(body.get("password") or "")
        if not username and not password:
            raise GrpcError(UNAUTHENTICATED, "no credentials supplied")
        if len(username) > 32:
            raise GrpcError(INVALID_ARGUMENT, "Username is too long (32 bytes max)")
        if not password:
            raise GrpcError(UNAUTHENTICATED, "Blank passwords are not allowed")
        token = self.sandbox.auth.login(username, password)
        if token is None:
            raise GrpcError(UNAUTHENTICATED, "Invalid username or password")
        cookie = f"argocd.token={token}; path=/; SameSite=lax; httpOnly"
        self.json(200, {"token": token}, {"Set-Cookie": cookie})

    @route("GET", "/api/v1/session/userinfo")
    def userinfo(self) -> None:
        token = self.token()
        if token and not self.sandbox.auth.check(token):
            self.json(200, {"loggedIn": True, "username": "admin", "iss": "argocd"})
        else:
            self.json(200, {})

    # applications ------------------------------------------------------------------------
    def _app(self, name: str, project: str | None = None) -> App:
        self.authenticate()
        return self.sandbox.apps.find(name, self.q("project") if project is None else project)

    @route("GET", A)
    def list_apps(self) -> None:
        self.authenticate()
        with self.sandbox.lock:
            names = self.query.get("name") or []
            projects = self.query.get("projects") or self.query.get("project") or []
            wanted = dict(
                term.split("=", 1) for term in self.q("selector").split(",") if "=" in term
            )
            items = [
                self.sandbox.apps.view(a, with_health=False)
                for n, a in sorted(self.sandbox.apps.apps.items())
                if (not names or n in names)
                and (not projects or a.spec.get("project") in projects)
                and all(
                    (a.obj["metadata"].get("labels") or {}).get(k.strip()) == v.strip()
                    for k, v in wanted.items()
                )
            ]
            self.json(
                200, {"metadata": {"resourceVersion": str(self.sandbox.apps.stamp)}, "items": items}
            )

    @route("POST", A)
    def create_app(self) -> None:
        self.authenticate()
        body = self.json_body()
        if not isinstance(body, dict):
            raise GrpcError(INVALID_ARGUMENT, "application is required")
        with self.sandbox.lock:
            app = self.sandbox.apps.create(body, upsert=self.q("upsert") == "true")
            self.sandbox.save_apps()
            name = app.name
        if self.q("validate") != "false":
            self.sandbox.apps.load_source(name)
        with self.sandbox.lock:
            app = self.sandbox.apps.apps[name]
            self.sandbox.apps.reconcile(app)
            self.json(200, self.sandbox.apps.view(app))

    @route("GET", A + "/{name}")
    def get_app(self, name: str) -> None:
        with self.sandbox.lock:
            self._app(name)
        refresh = self.q("refresh")
        if refresh:
            self.sandbox.refresh(name, hard=refresh == "hard")
        with self.sandbox.lock:
            app = self._app(name)
            self.json(200, self.sandbox.apps.view(app))

    @route("PUT", A + "/{name}")
    def update_app(self, name: str) -> None:
        """PUT /api/v1/applications/{application.metadata.name}: replace spec, labels, annotations."""
        body = self.json_body()
        if not isinstance(body, dict) or (body.get("metadata") or {}).get("name", name) != name:
            raise GrpcError(
                INVALID_ARGUMENT, "application name in the body does not match the path"
            )
        with self.sandbox.lock:
            self._app(name)
            body.setdefault("metadata", {})["name"] = name
            app = self.sandbox.apps.create(body, upsert=True)
            self.sandbox.save_apps()
        self.sandbox.apps.load_source(name)
        with self.sandbox.lock:
            self.sandbox.apps.reconcile(app)
            self.json(200, self.sandbox.apps.view(app))

    @route("DELETE", A + "/{name}")
    def delete_app(self, name: str) -> None:
        cascade = self.q("cascade", "true") != "false"
        if not cascade and self.q("propagationPolicy"):
            raise GrpcError(
                INVALID_ARGUMENT, "cannot set propagation policy when cascading is disabled"
            )
        with self.sandbox.lock:
            self._app(name)
            self.sandbox.apps.delete(name, cascade)
            self.sandbox.save_apps()
            self.sandbox.lock.notify_all()
        self.json(200, {})

    @route("POST", A + "/{name}/sync")
    def sync(self, name: str) -> None:
        body = self.json_object()
        with self.sandbox.lock:
            app = self._app(name, str(body.get("project") or ""))
            sources = [dict(app.source)]
            if app.multi_source:
                sources = [dict(s) for s in app.spec.get("sources") or []]
            self.sandbox.apps.check_sync(app, body)
            asked = self.sandbox.apps.requested(app, body)
        resolved = []
        try:
            for source, (revision, target, _) in zip(sources, asked, strict=True):
                mirror = self.sandbox.git.fetch(str(source.get("repoURL", "")))
                resolved.append(self.sandbox.git.resolve(mirror, revision or target))
        except SourceError as err:
            raise GrpcError(FAILED_PRECONDITION, str(err)) from None
        with self.sandbox.lock:
            app = self._app(name, str(body.get("project") or ""))
            self.sandbox.apps.sync(app, body, self.user, resolved)
            self.sandbox.lock.notify_all()
            self.json(200, self.sandbox.apps.view(app))

    @route("DELETE", A + "/{name}/operation")
    def terminate(self, name: str) -> None:
        with self.sandbox.lock:
            self.sandbox.apps.terminate(self._app(name))
        self.json(200, {})

    @route("POST", A + "/{name}/rollback")
    def rollback(self, name: str) -> None:
        body = self.json_object()
        with self.sandbox.lock:
            app = self._app(name, str(body.get("project") or ""))
            self.sandbox.apps.rollback(app, body, self.user)
            self.json(200, self.sandbox.apps.view(app))

    @route("GET", A + "/{name}/resource-tree")
    def resource_tree(self, name: str) -> None:
        with self.sandbox.lock:
            app = self._app(name)
            nodes = self.sandbox.cluster.tree_nodes(app.name)
        hosts = [{"name": "sandbox", "resourcesInfo": [], "systemInfo": {"architecture": "amd64"}}]
        self.json(200, {"nodes": nodes, "hosts": hosts})

    @route("GET", A + "/{name}/revisions/{revision}/metadata")
    def revision_metadata(self, name: str, revision: str) -> None:
        with self.sandbox.lock:
            app = self._app(name)
            source = app.source
            index = str((self.query.get("sourceIndex") or [""])[0])
            if app.multi_source and index:
                sources = app.spec.get("sources") or []
                if not index.isdigit() or int(index) >= len(sources):
                    raise GrpcError(INVALID_ARGUMENT, f"source index {index} not found")
                source = sources[int(index)]
            url = str(source.get("repoURL", ""))
        try:
            meta = self.sandbox.git.metadata(self.sandbox.git.mirror(url), revision)
        except SourceError as err:
            raise GrpcError(UNKNOWN, f"rpc error: code = Unknown desc = {err}") from None
        self.json(200, meta)

    @route("GET", A + "/{name}/managed-resources")
    def managed(self, name: str) -> None:
        with self.sandbox.lock:
            app = self._app(name)
            items = []
            for obj in app.desired:
                key = self.sandbox.cluster_key(obj, app)
                live = self.sandbox.cluster.live_object(key)
                item = {
                    "kind": key[1],
                    "namespace": key[2],
                    "name": key[3],
                    "targetState": json.dumps(obj),
                    "liveState": json.dumps(live),
                }
                if key[0]:
                    item["group"] = key[0]
                items.append(item)
        self.json(200, {"items": items})

    def _resource(self, app: App) -> dict[str, Any]:
        """The live object a ``resource`` query names; 400 when it is not in the app's tree."""
        kind, group, name = self.q("kind"), self.q("group"), self.q("resourceName")
        namespace = self.q("namespace") or app.namespace
        for node in self.sandbox.cluster.tree_nodes(app.name):
            if (node["kind"], node.get("group", ""), node["name"], node["namespace"]) == (
                kind,
                group,
                name,
                namespace,
            ):
                live = self.sandbox.live_node(node)
                if live is not None:
                    return live
        raise GrpcError(
            INVALID_ARGUMENT, f"{kind} {group} {name} not found as part of application {app.name}"
        )

    @route("GET", A + "/{name}/resource")
    def get_resource(self, name: str) -> None:
        with self.sandbox.lock:
            live = self._resource(self._app(name))
        self.json(200, {"manifest": json.dumps(live)})

    @route("GET", A + "/{name}/resource/actions")
    def get_actions(self, name: str) -> None:
        with self.sandbox.lock:
            live = self._resource(self._app(name))
        self.json(200, {"actions": list_actions(live)})

    @route("POST", A + "/{name}/resource/actions")
    def run_action_v1(self, name: str) -> None:
        action = self.json_body()  # body: "action": a bare JSON string
        if not isinstance(action, str):
            raise GrpcError(
                INVALID_ARGUMENT, "json: cannot unmarshal object into Go value of type string"
            )
        if self.sandbox.actions_api == "v1-broken":
            action = ""  # RunResourceAction builds the v2 request without the action
        self._run(name, action, self.q("project"))

    @route("POST", A + "/{name}/resource/actions/v2")
    def run_action_v2(self, name: str) -> None:
        if self.sandbox.actions_api == "v1-only":
            self.unmatched(self.url.path, other_verb=False)  # no such route before 3.1
            return
        body = self.json_object()
        query = {
            k: str(body.get(k) or "")
            for k in ("namespace", "resourceName", "version", "group", "kind")
        }
        self.path = self.url.path + "?" + "&".join(f"{k}={v}" for k, v in query.items())
        self._run(name, str(body.get("action") or ""), str(body.get("project") or ""))

    def _run(self, name: str, action: str, project: str) -> None:
        with self.sandbox.lock:
            app = self._app(name, project)
            live = self._resource(app)
            rollout = self.sandbox.cluster.rollout(
                live["metadata"]["namespace"], live["metadata"]["name"]
            )
            if live.get("kind") != "Rollout" or rollout is None:
                raise GrpcError(
                    INVALID_ARGUMENT, f"action {action!r} is not available for {live.get('kind')}"
                )
            run_action(rollout, action)
            self.sandbox.kick()
        self.json(200, {})
