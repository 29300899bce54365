"""Control a blue-green Rollout: promote, abort, retry, restart, and confirm it happened.

Two ways in (``--via``):
- ``argocd`` (default): Argo CD resource actions (``resume`` = promote, ``promote-full``, ``abort``,
  ``retry``, ``restart``); needs only the Argo CD token and reads the live Rollout through Argo CD.
  The endpoint (v2 on Argo CD 3.1+, v1 before) is chosen by ``ArgoCD.run_action``.
- ``dashboard``: the Rollouts dashboard API (``ROLLOUTS_SERVER``, no auth at all). Its base path is
  ``/rollouts/api/v1`` since v1.9 and ``/api/v1`` before, so it is probed; its errors are HTTP 500
  ``{"code":2}`` even for not-found. Its ``undo`` (which never answers, argo-rollouts#4956) is not
  used: a rollback is a Git change (``release/rollback.py``), so Git stays the truth.

Upstream, a non-full promote of a Rollout that is not paused is a silent no-op (200, nothing
patched): we check the state first and say so instead of pretending it worked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gitops_release.argo import http
from gitops_release.argo.client import ArgoCD
from gitops_release.argo.model import ResourceRef, Rollout
from gitops_release.argo.types import Action
from gitops_release.errors import Failed, RemoteError

CONFIRM_TIMEOUT = 15.0


ARGOCD_ACTION = {
    Action.promote: "resume",  # Argo CD has no "promote": resume is the non-full promote
    Action.promote_full: "promote-full",
    Action.abort: "abort",
    Action.retry: "retry",
    Action.restart: "restart",
}


class Control(Protocol):
    """One Rollout, read and acted on through one channel."""

    @property
    def label(self) -> str: ...

    def read(self) -> Rollout: ...

    def act(self, action: Action) -> None: ...


@dataclass
class ArgoCDControl:
    argocd: ArgoCD
    app: str
    ref: ResourceRef

    @property
    def label(self) -> str:
        return f"rollout {self.ref.namespace}/{self.ref.name}"

    def read(self) -> Rollout:
        return self.argocd.rollout(self.app, self.ref)

    def act(self, action: Action) -> None:
        try:
            self.argocd.run_action(self.app, self.ref, ARGOCD_ACTION[action])
        except http.Forbidden as err:
            raise RemoteError(
                f"Argo CD refused action {ARGOCD_ACTION[action]} on {self.label}: {err.server_message}",
                hint=f"the account needs RBAC `applications, action/argoproj.io/Rollout/{ARGOCD_ACTION[action]}` on the app's project",
            ) from None


def dashboard_client(
    server: str,
    *,
    verify: bool | str = True,
    sleep: Callable[[float], None] = time.sleep,
    deadline: tuple[float | None, str] = (None, ""),
) -> http.Client:
    """A client on the dashboard API, its base path probed: ``/rollouts/api/v1`` (v1.9+) or ``/api/v1``.

    On <= 1.8 the wrong path answers the UI's index.html with 200, hence the JSON check.
    ``deadline`` is the command's (:meth:`Connection.deadline`): no call runs past it.
    """
    root = server.rstrip("/")
    if "://" not in root:
        root = f"http://{root}"
    until, label = deadline
    common: dict[str, Any] = {
        "name": "Rollouts dashboard", "verify": verify, "sleep": sleep,
        "deadline": until, "deadline_label": label,
    }  # fmt: skip
    if root.endswith("/api/v1"):
        return http.Client(root, **common)
    errors = []
    for prefix in ("/rollouts/api/v1", "/api/v1"):
        client = http.Client(root + prefix, retries=1, **common)
        try:
            version = client.get("/version")
        except (http.ApiError, http.BadResponse) as err:
            errors.append(str(err))
            continue
        if isinstance(version, dict):
            client.retries = 4
            return client
    raise RemoteError(
        f"no Rollouts dashboard API at {root} (tried /rollouts/api/v1 and /api/v1)",
        hint="check ROLLOUTS_SERVER; the dashboard runs with `kubectl argo rollouts dashboard`",
    )


def rollout_from_info(info: dict[str, Any]) -> Rollout:
    """A :class:`Rollout` from the dashboard's RolloutInfo (what the control checks need)."""
    meta = info.get("objectMeta") or {}
    name = str(meta.get("name") or "")

    def hash_of(rs: dict[str, Any]) -> str:
        rs_name = str((rs.get("objectMeta") or {}).get("name") or "")
        return rs_name[len(name) + 1 :] if rs_name.startswith(name + "-") else rs_name

    sets = [rs for rs in info.get("replicaSets") or [] if isinstance(rs, dict)]
    newest = max(sets, key=lambda rs: int(rs.get("revision") or 0), default=None)
    status = str(info.get("status") or "")
    message = str(info.get("message") or "")
    return Rollout(
        name=name,
        namespace=str(meta.get("namespace") or ""),
        generation=int(meta.get("generation") or 0),
        observed_generation=int(info.get("generation") or meta.get("generation") or 0),
        phase=status,
        message=message,
        pause_reasons=(message,) if status == "Paused" and message else (),
        aborted=message.startswith("RolloutAborted"),
        current_pod_hash=hash_of(newest) if newest else "",
        stable_rs=next((hash_of(rs) for rs in sets if rs.get("stable")), ""),
        active_selector=next((hash_of(rs) for rs in sets if rs.get("active")), ""),
        preview_selector=next((hash_of(rs) for rs in sets if rs.get("preview")), ""),
        replicas=int(info.get("desired") or 0),
        strategy=str(info.get("strategy") or "BlueGreen"),
        images=tuple(
            str(c.get("image")) for c in info.get("containers") or [] if isinstance(c, dict)
        ),
        status_replicas=int(info.get("current") or 0),
        updated_replicas=int(info.get("updated") or 0),
        ready_replicas=int(info.get("ready") or 0),
        available_replicas=int(info.get("available") or 0),
        created_at=str(meta.get("creationTimestamp") or ""),
    )


@dataclass
class DashboardControl:
    client: http.Client
    namespace: str
    name: str

    @property
    def label(self) -> str:
        return f"rollout {self.namespace}/{self.name}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.client.request(
                method, f"/rollouts/{self.namespace}/{self.name}{path}", **kwargs
            )
        except http.ServerError as err:
            # The dashboard answers 500 {"code":2} for Kubernetes not-found and forbidden too.
            if "not found" in err.server_message:
                raise RemoteError(
                    f"{self.label} not found on the Rollouts dashboard",
                    hint="check the namespace and --rollout NAME",
                ) from None
            if "forbidden" in err.server_message:
                raise RemoteError(
                    f"the Rollouts dashboard may not change {self.label}: {err.server_message}",
                    hint="the dashboard acts with the credentials of whoever started it",
                ) from None
            raise

    def info(self) -> dict[str, Any]:
        data = self._call("GET", "/info")
        return data if isinstance(data, dict) else {}

    def read(self) -> Rollout:
        return rollout_from_info(self.info())

    def act(self, action: Action) -> None:
        if action in (Action.promote, Action.promote_full):
            self._call("PUT", "/promote", body={"full": action is Action.promote_full})
        else:
            self._call("PUT", f"/{action.value}", body={})


@dataclass(frozen=True)
class ActionResult:
    action: Action
    rollout: str
    changed: bool
    message: str
    before: Rollout
    after: Rollout


def _precheck(action: Action, ro: Rollout, label: str, app: str) -> str | None:
    """None when the action would change something; else why it would be a no-op (``app``: the
    name the hints use)."""
    if action is Action.promote:
        if ro.pause_reasons or ro.paused:
            return None
        if ro.aborted:
            raise Failed(
                f"{label} is aborted ({ro.message or 'Degraded'}): promote would do nothing",
                hint=f"run `gitops-release retry {app}` to resume the update, or write the stable image back to Git",
            )
        if ro.fully_promoted:
            return (
                f"{label} is already fully promoted ({ro.phase or 'Healthy'}): nothing to promote"
            )
        raise Failed(
            f"{label} is not paused ({ro.phase or 'Progressing'}: {ro.message or 'preview not ready'}): "
            "a promote now would be a silent no-op upstream",
            hint=f"wait with `gitops-release wait {app} --for preview-ready`, or skip the pause with `promote {app} --full`",
        )
    if action is Action.promote_full and ro.fully_promoted:
        return f"{label} is already fully promoted: nothing to promote"
    if action is Action.abort:
        if ro.aborted:
            return f"{label} is already aborted"
        if ro.fully_promoted:
            return f"{label} is fully promoted ({ro.phase or 'Healthy'}): no update to abort"
    if action is Action.retry and not ro.aborted:
        return f"{label} is not aborted: nothing to retry"
    return None


def _confirmed(action: Action, before: Rollout, now: Rollout) -> bool:
    if action is Action.promote:
        return not now.pause_reasons and not now.paused
    if action is Action.promote_full:
        return now.promote_full or now.fully_promoted or now.phase != before.phase
    if action is Action.abort:
        return now.aborted or now.phase == "Degraded"
    if action is Action.retry:
        return not now.aborted
    return (
        bool(now.restart_at) and now.restart_at != before.restart_at
    ) or now.phase != before.phase


def precheck(control: Control, action: Action, *, app: str) -> tuple[Rollout, str | None]:
    """Read the Rollout; why ``action`` would do nothing (None: it would act). What ``run``
    checks first, for a ``--dry-run`` that stops before the action."""
    before = control.read()
    return before, _precheck(action, before, control.label, app)


def run(
    control: Control,
    action: Action,
    *,
    app: str,
    confirm_timeout: float = CONFIRM_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ActionResult:
    """Check, act, then read the Rollout back until the change shows (bounded)."""
    before = control.read()
    noop = _precheck(action, before, control.label, app)
    if noop:
        return ActionResult(action, control.label, False, noop, before, before)
    control.act(action)
    deadline = clock() + confirm_timeout
    delay = 0.1
    while True:
        now = control.read()
        if _confirmed(action, before, now):
            return ActionResult(
                action, control.label, True, f"{control.label}: {action.value} done", before, now
            )
        if clock() >= deadline:
            raise RemoteError(
                f"{action.value} was accepted but {control.label} did not change within {confirm_timeout:.0f}s "
                f"({now.phase}: {now.message})",
                hint=f"check the Rollouts controller, then `gitops-release status {app}`",
            )
        sleep(delay)
        delay = min(delay * 2, 1.0)
