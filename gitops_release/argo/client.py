"""Argo CD API client: connection settings, authentication, typed results.

Where the server and the token come from (DESIGN.md section 3, config.py for the precedence):
``--server`` / ``ARGOCD_SERVER`` (a URL, or the argocd CLI's ``host:port``: https unless
``--plaintext``); the token from ``--auth-token-file``, ``ARGOCD_AUTH_TOKEN``, a session login
(``--username`` + ``--password-stdin`` / ``ARGOCD_PASSWORD``) or the argocd CLI's own config file
(current context). A secret never comes from a flag's value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gitops_release.argo import http
from gitops_release.argo.apierrors import AppNotFound, NoLiveObject
from gitops_release.argo.model import (
    AnalysisRun,
    Application,
    ReplicaSet,
    ResourceRef,
    ResourceTree,
    Rollout,
)
from gitops_release.errors import UsageError

REFRESH_TIMEOUT = 60.0
LUA_NO_SCRIPT = "built-in script does not exist"
"""How Argo CD 3.1.0-3.1.4 answer every v1 resource action (argo-cd#24490)."""
_APP_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def check_app_name(name: str) -> str:
    """An Application name goes into URL paths: anything but a Kubernetes name (lowercase
    letters, digits, '-', '.') is refused before a request is made, so ``a/sync`` or ``..``
    can never address another endpoint."""
    if _APP_NAME.fullmatch(name):
        return name
    hint = (
        "for an app in another namespace pass --app-namespace NS"
        if "/" in name
        else "a name is lowercase letters, digits, '-' and '.', at most 253 characters"
    )
    raise UsageError(f"invalid application name {name!r}", hint=hint)


class ArgoCD:
    """The Argo CD REST API (grpc-gateway), returning typed results."""

    def __init__(
        self,
        client: http.Client,
        *,
        project: str | None = None,
        app_namespace: str | None = None,
        default_project: str = "default",
    ):
        self.client = client
        self.project = project
        """Sent only when the user chose it: a wrong project turns an existing app into a 404."""
        self.default_project = project or default_project
        self.app_namespace = app_namespace
        self.action_api: str | None = None
        """The resource-action endpoint this server answers ("v2" or "v1"), once learnt."""

    # -- applications ------------------------------------------------------------------------
    def _q(self, **extra: Any) -> dict[str, Any]:
        return {"appNamespace": self.app_namespace, **extra}

    def _app_call(self, name: str, method: str, path: str, **kwargs: Any) -> Any:
        """A call on one app: a 403 without a project is asked again with one, so that a
        missing app says "not found" instead of a bare "permission denied"."""
        check_app_name(name)
        params = dict(kwargs.pop("params", None) or {})
        try:
            return self.client.request(method, path, params=self._q(**params), **kwargs)
        except http.Forbidden as err:
            if method != "GET":
                raise self._forbidden(name, err) from None
            try:
                return self.client.request(
                    method,
                    path,
                    params=self._q(project=self.default_project, **params),
                    **kwargs,
                )
            except http.NotFound:
                raise self._not_found(name) from None
            except http.Forbidden as again:
                raise self._forbidden(name, again) from None
        except http.NotFound as err:
            if "not found" in err.server_message and "application" in err.server_message:
                raise self._not_found(name) from None
            raise

    def _not_found(self, name: str) -> AppNotFound:
        project = self.default_project
        return AppNotFound(
            f"application {name} not found",
            hint=f"check the name with `gitops-release list`; if it is in a project other than {project}, pass --project",
        )

    def _forbidden(self, name: str, err: http.ApiError) -> http.AppForbidden:
        return http.AppForbidden(
            err.status, err.method, err.url, err.server_message,
            what=f"permission denied on application {name}", grpc_code=err.grpc_code,
            hint="ask for the needed RBAC permission in the app's Argo CD project",
        )  # fmt: skip

    def get_app_json(self, name: str, *, refresh: str | None = None) -> dict[str, Any]:
        timeout = (self.client.connect_timeout, REFRESH_TIMEOUT) if refresh else None
        data = self._app_call(
            name,
            "GET",
            f"/api/v1/applications/{name}",
            params={"refresh": refresh},
            timeout=timeout,
            retry_slow=not refresh,
        )
        return data if isinstance(data, dict) else {}

    def get_app(self, name: str, *, refresh: str | None = None) -> Application:
        return Application.from_json(self.get_app_json(name, refresh=refresh))

    def refresh(self, name: str) -> Application:
        """``GET ?refresh=normal`` blocks until reconciled; past our timeout, a plain GET."""
        try:
            return self.get_app(name, refresh="normal")
        except http.TooSlow:
            return self.get_app(name)

    def list_apps(self) -> list[Application]:
        data = self.client.get("/api/v1/applications", params=self._q(projects=self.project))
        return [Application.from_json(item) for item in data.get("items") or []]

    def create_app(self, manifest: dict[str, Any], *, upsert: bool = True) -> Application:
        data = self.client.request(
            "POST",
            "/api/v1/applications",
            params={"upsert": "true" if upsert else "false"},
            body=manifest,
            idempotent=upsert,
        )
        return Application.from_json(data)

    def delete_app(self, name: str, *, cascade: bool = True) -> None:
        self._app_call(
            name,
            "DELETE",
            f"/api/v1/applications/{name}",
            params={"cascade": "true" if cascade else "false"},
        )

    def sync(
        self,
        name: str,
        *,
        revision: str | None = None,
        prune: bool = False,
        source_position: int | None = None,
    ) -> Application:
        """``source_position``: a multi-source app's revision is given per source (its 1-based
        position in ``spec.sources``); a bare ``revision`` is not what such an app reads."""
        body: dict[str, Any] = {"prune": prune}
        if revision and source_position is not None:
            body["revisions"], body["sourcePositions"] = [revision], [source_position]
        elif revision:
            body["revision"] = revision
        if self.app_namespace:
            body["appNamespace"] = self.app_namespace
        if self.project:
            body["project"] = self.project
        data = self._app_call(name, "POST", f"/api/v1/applications/{name}/sync", body=body)
        return Application.from_json(data)

    def resource_tree(self, name: str) -> ResourceTree:
        data = self._app_call(name, "GET", f"/api/v1/applications/{name}/resource-tree")
        return ResourceTree.from_json(data)

    def live_object(self, name: str, ref: ResourceRef) -> dict[str, Any]:
        import json

        data = self._app_call(
            name, "GET", f"/api/v1/applications/{name}/resource", params=ref.params()
        )
        manifest = data.get("manifest")
        if not manifest:
            raise NoLiveObject(
                f"Argo CD returned no live {ref.kind} {ref.namespace}/{ref.name} for {name}",
                hint="the resource may not be created yet; check `gitops-release status`",
            )
        obj = json.loads(manifest) if isinstance(manifest, str) else manifest
        return obj if isinstance(obj, dict) else {}

    def target_object(self, name: str, ref: ResourceRef) -> dict[str, Any] | None:
        """The object as Git asks for it at the app's target revision (``managed-resources``'
        ``targetState``), or None when the app's manifests hold no such object."""
        import json

        data = self._app_call(
            name, "GET", f"/api/v1/applications/{name}/managed-resources",
            params={"kind": ref.kind, "group": ref.group, "name": ref.name},
        )  # fmt: skip
        for item in (data or {}).get("items") or []:
            if (item.get("kind"), item.get("name")) != (ref.kind, ref.name):
                continue
            state = item.get("targetState")
            obj = json.loads(state) if isinstance(state, str) and state else state
            return obj if isinstance(obj, dict) else None
        return None

    def rollout(self, name: str, ref: ResourceRef) -> Rollout:
        return Rollout.from_json(self.live_object(name, ref))

    def replica_set(self, name: str, rs_name: str, namespace: str) -> ReplicaSet:
        ref = ResourceRef("ReplicaSet", rs_name, namespace, group="apps", version="v1")
        return ReplicaSet.from_json(self.live_object(name, ref))

    def analysis_run(self, name: str, run_name: str, namespace: str) -> AnalysisRun:
        ref = ResourceRef("AnalysisRun", run_name, namespace)
        return AnalysisRun.from_json(self.live_object(name, ref))

    def run_action(self, name: str, ref: ResourceRef, action: str) -> None:
        """Run a resource action: ``RunResourceActionV2`` (Argo CD 3.1+, a JSON body), else the
        v1 endpoint (a bare JSON string body). Which one works is learnt once per client.

        A v2 route that does not exist (404 without a gRPC code: Argo CD 3.0 and older) means v1.
        A v1 that answers "built-in script does not exist" (Argo CD 3.1.0-3.1.4 forward v1 to v2
        without the action, https://github.com/argoproj/argo-cd/issues/24490) means v2.
        """
        if self.action_api != "v1":
            try:
                self._run_action_v2(name, ref, action)
            except http.NotFound as err:
                if err.grpc_code is not None:
                    raise  # the app or the resource is missing: v1 would say the same
                self.action_api = "v1"
            else:
                self.action_api = "v2"
                return
        try:
            self._run_action_v1(name, ref, action)
        except http.ServerError as err:
            if LUA_NO_SCRIPT not in err.server_message:
                raise
            try:
                self._run_action_v2(name, ref, action)
            except http.NotFound:
                raise err from None  # neither endpoint runs it: the action itself is unknown
            self.action_api = "v2"

    def _run_action_v1(self, name: str, ref: ResourceRef, action: str) -> None:
        params = ref.params()
        if self.project:
            params["project"] = self.project
        self._app_call(
            name,
            "POST",
            f"/api/v1/applications/{name}/resource/actions",
            params=params,
            body=action,
            idempotent=True,  # an action sets a field to a value: repeating it changes nothing
        )

    def _run_action_v2(self, name: str, ref: ResourceRef, action: str) -> None:
        body: dict[str, Any] = {"name": name, **ref.params(), "action": action}
        body["resourceActionParameters"] = []
        if self.project:
            body["project"] = self.project
        if self.app_namespace:
            body["appNamespace"] = self.app_namespace
        self._app_call(
            name,
            "POST",
            f"/api/v1/applications/{name}/resource/actions/v2",
            body=body,
            idempotent=True,
        )

    def rollback(self, name: str, history_id: int) -> Application:
        """Argo CD's history rollback (refused with auto-sync on; Git is left as it is)."""
        body: dict[str, Any] = {"id": history_id, "prune": False}
        if self.app_namespace:
            body["appNamespace"] = self.app_namespace
        data = self._app_call(name, "POST", f"/api/v1/applications/{name}/rollback", body=body)
        return Application.from_json(data)

    def revision_metadata(
        self, name: str, revision: str, *, source_index: int | None = None
    ) -> dict[str, Any]:
        """Author, date and message of a Git revision as Argo CD's repo server sees it ({} when
        the server cannot tell: a Helm chart version, an old server). ``source_index``: of a
        multi-source app, the source (0-based in ``spec.sources``) the revision belongs to."""
        params = self._q()
        if source_index is not None:
            params["sourceIndex"] = str(source_index)
        try:
            data = self.client.get(
                f"/api/v1/applications/{name}/revisions/{revision}/metadata", params=params
            )
        except (http.ApiError, http.BadResponse):
            return {}
        return data if isinstance(data, dict) else {}

    def watch(self, name: str, *, read_timeout: float) -> Iterator[Application]:
        """Application states from the watch stream until it ends (cut or read timeout)."""
        params = self._q(name=name)
        for event in self.client.stream(
            "/api/v1/stream/applications", params=params, read_timeout=read_timeout
        ):
            app = event.get("application") if isinstance(event, dict) else None
            if isinstance(app, dict):
                if event.get("type") == "DELETED":
                    raise self._not_found(name)
                yield Application.from_json(app)
