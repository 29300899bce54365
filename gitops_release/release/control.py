"""The Argo CD commands' domain functions: one per command (``app create/delete``, ``sync``,
``wait``, ``promote``/``abort``/``retry``/``restart``). ``status``, ``list`` and ``history`` live in
:mod:`gitops_release.views.gather`; connection handling in :class:`Connection`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_release.argo import http
from gitops_release.argo.apierrors import AppNotFound
from gitops_release.argo.connection import Connection
from gitops_release.argo.model import ResourceRef, find_rollout
from gitops_release.argo.rollouts import ActionResult
from gitops_release.argo.types import Action, Target, Via
from gitops_release.argo.wait import (
    Expect,
    Outcome,
    Waiter,
    format_duration,
    same_revision,
    wait_operation,
)
from gitops_release.errors import RemoteError, TimedOut, UsageError
from gitops_release.output import Output, short_sha
from gitops_release.release.plan import Plan


@dataclass
class Applied:
    """``app create``: what happened to each Application of the file."""

    applications: list[dict[str, str]]

    def text(self) -> str:
        lines = []
        for r in self.applications:
            action = r["action"]
            if action.startswith("would "):  # "would create" -> "would be created"
                action = f"would be {action.removeprefix('would ')}d"
            lines.append(f"application {r['name']} {action}")
            if r.get("diff"):
                lines.append(r["diff"].rstrip("\n"))
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        changed = any(r["action"] in ("created", "updated") for r in self.applications)
        return {"applications": self.applications, "changed": changed}


@dataclass
class Deleted:
    """``app delete``: asked to delete; ``gone`` once Argo CD no longer knows the app."""

    app: str
    gone: bool
    waited: bool

    def text(self) -> str:
        return f"application {self.app} {'deleted' if self.gone or not self.waited else 'deleting'}"

    def payload(self) -> dict[str, Any]:
        return {"app": self.app, "deleted": True, "gone": self.gone, "changed": True}


@dataclass
class Acted:
    """A Rollout action done (or found needless), and with ``--wait`` the release it led to."""

    app: str
    action: ActionResult
    released: Outcome | None = None

    def text(self) -> str:
        text = self.action.message
        if self.released is not None:
            images = ", ".join(self.released.expect.images) or "its image"
            text += f"\n{self.app} released on {images}"
        return text

    def payload(self) -> dict[str, Any]:
        result = self.action
        data: dict[str, Any] = {
            "app": self.app,
            "rollout": result.rollout.removeprefix("rollout "),
            "action": result.action.value,
            "changed": result.changed,
            "message": result.message,
            "phase": result.after.phase,
        }
        waited = self.released.rollout if self.released is not None else None
        if waited is not None:  # where --wait left it (released), not the moment after acting
            data["phase"] = waited.phase
        if self.released is not None:
            data["released"] = self.released.payload()
        return data


def _manifest_apps(path: Path) -> list[dict[str, Any]]:
    from gitops_release.yaml.read import load_all

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"--file {path}: cannot read: {err.strerror}") from None
    apps = [
        doc
        for doc in load_all(text, source=str(path))
        if isinstance(doc, dict) and doc.get("kind") == "Application"
    ]
    if not apps:
        raise UsageError(
            f"{path}: no kind: Application in this file",
            hint="pass the Argo CD Application manifest, e.g. argocd/APP.yaml from scaffold",
        )
    for doc in apps:
        if not str(doc.get("apiVersion", "")).startswith("argoproj.io/"):
            raise UsageError(f"{path}: Application apiVersion must be argoproj.io/v1alpha1")
        if not (doc.get("metadata") or {}).get("name"):
            raise UsageError(f"{path}: Application without metadata.name")
    return apps


def app_create(conn: Connection, file: Path, *, dry_run: bool = False) -> Applied:
    """Create or update (upsert) every Application in ``file``; says which happened."""
    docs = _manifest_apps(file)
    api = conn.argocd()
    results = []
    for doc in docs:
        body = {k: v for k, v in doc.items() if k not in ("status", "operation")}
        name = str(body["metadata"]["name"])
        try:
            before = api.get_app_json(name)
        except AppNotFound:
            before = None
        if before is not None and _same_app(before, body):
            results.append({"name": name, "action": "unchanged"})
            continue
        if dry_run:
            action = "would create" if before is None else "would update"
            results.append({"name": name, "action": action, "diff": _spec_diff(name, before, body)})
            continue
        api.create_app(body, upsert=True)
        action = "created" if before is None else "updated"
        results.append({"name": name, "action": action})
    return Applied(results)


def _spec_diff(name: str, live: dict[str, Any] | None, wanted: dict[str, Any]) -> str:
    """The upsert as a unified diff of what :func:`_same_app` compares: the spec, and the labels
    and annotations the file sets (a new app: all of it added)."""
    import difflib

    from gitops_release.yaml.dump import dump

    def compared(doc: dict[str, Any]) -> dict[str, Any]:
        meta, wanted_meta = doc.get("metadata") or {}, wanted.get("metadata") or {}
        shown: dict[str, Any] = {}
        for kind in ("labels", "annotations"):
            have = meta.get(kind) or {}
            values = {k: have[k] for k in wanted_meta.get(kind) or {} if k in have}
            if values:
                shown.setdefault("metadata", {})[kind] = values
        return {**shown, "spec": doc.get("spec")}

    before = dump(compared(live)).splitlines(keepends=True) if live else []
    after = dump(compared(wanted)).splitlines(keepends=True)
    label = f"application/{name}"
    return "".join(difflib.unified_diff(before, after, f"a/{label}", f"b/{label}"))


def _same_app(live: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """What Argo CD's create compares: spec, and the labels and annotations we set."""
    if live.get("spec") != wanted.get("spec"):
        return False
    live_meta, meta = live.get("metadata") or {}, wanted.get("metadata") or {}
    return all(
        (live_meta.get(k) or {}).get(key) == value
        for k in ("labels", "annotations")
        for key, value in (meta.get(k) or {}).items()
    )


def app_delete(
    conn: Connection,
    name: str,
    *,
    cascade: bool = True,
    wait: bool = False,
    dry_run: bool = False,
    yes: bool = False,
    ask: Callable[[str], bool] | None = None,
) -> Deleted | Plan:
    """Delete the Application (and by default its resources). Unless ``yes``, ``ask`` (a
    terminal's prompt) must confirm; without one (CI, a pipe) it refuses: exit 2, nothing done."""
    api = conn.argocd()
    api.get_app(name)  # a clear "not found" before anything else
    what = " and every resource it manages" if cascade else " (its resources stay)"
    if not (yes or dry_run):
        if ask is None:
            raise UsageError(
                f"app delete {name}: not deleting without confirmation: stdin is not a terminal",
                hint=f"pass --yes to delete application {name}{what}",
            )
        if not ask(f"Delete application {name}{what}?"):
            raise UsageError(
                f"application {name} not deleted", hint="pass --yes to skip the question"
            )
    if dry_run:
        plan = Plan(f"app delete {name}", name)
        plan.add(
            f"delete application {name}{what}",
            call=f"DELETE /api/v1/applications/{name}?cascade={str(cascade).lower()}",
        )
        if wait:
            plan.wait(name, "gone")
        return plan
    api.delete_app(name, cascade=cascade)
    if not wait:
        return Deleted(name, False, wait)
    deadline = time.monotonic() + conn.timeout
    delay = 0.2
    while time.monotonic() < deadline:
        try:
            api.get_app(name)
        except AppNotFound:
            return Deleted(name, True, wait)
        conn.sleep(delay)
        delay = min(delay * 2, 2.0)
    raise TimedOut(
        f"application {name} still exists after {format_duration(conn.timeout)}",
        hint="its resources may have finalizers; look in Argo CD",
    )


def sync(
    conn: Connection,
    name: str,
    *,
    revision: str | None = None,
    prune: bool = False,
    rollout: str | None = None,
    out: Output,
    dry_run: bool = False,
) -> Outcome | Plan:
    """Refresh, sync (waiting for a running operation first), then wait for ``synced``."""
    api = conn.argocd()
    timeout = conn.timeout
    deadline = time.monotonic() + timeout
    if dry_run:  # the refresh is the first change (Argo CD annotates the app): read only
        app = api.get_app(name)
        plan = Plan(f"sync {name}", name)
        plan.take(name, auto_sync=app.auto_sync, revision=revision, prune=prune)
        if app.auto_sync and revision and not same_revision(app.revision, revision):
            plan.notes.append("Argo CD refuses a pinned --revision with auto-sync on")
        plan.wait(name, Target.synced)
        return plan
    app = api.refresh(name)
    expected = revision or app.revision
    if app.auto_sync and revision and not _reachable(app, revision, conn):
        # Not on the branch auto-sync follows (or no such commit): waiting could only time out.
        # Ask Argo CD to sync it, so that it says why not (or does it, should it accept).
        _refused_sync(api, name, revision, prune)
    elif app.auto_sync:
        if revision and not same_revision(app.revision, revision):
            out.progress(
                f"{name}: auto-sync is on, so Argo CD refuses a pinned revision; "
                f"refreshed, waiting for it to sync {short_sha(revision)}"
            )
        else:
            out.progress(f"{name}: auto-sync is on; refreshed, waiting for it to sync")
    else:
        for attempt in range(20):
            wait_operation(api, name, deadline, out)
            try:
                synced = api.sync(name, revision=revision, prune=prune)
            except http.BadRequest as err:
                if isinstance(err, http.OperationInProgress) and time.monotonic() < deadline:
                    conn.sleep(min(2.0, 0.2 * 2**attempt))
                    continue
                raise RemoteError(
                    f"Argo CD refused to sync {name}: {err.server_message}",
                    hint="check the revision and the app's sync policy",
                ) from None
            out.progress(f"{name}: sync started{' at ' + short_sha(revision) if revision else ''}")
            expected = revision or synced.revision or expected
            break
    waiter = Waiter(
        api, name, Target.synced, Expect(revision=expected), rollout_name=rollout, out=out
    )
    return waiter.run(max(0.0, deadline - time.monotonic()))


def _reachable(app: Any, revision: str, conn: Connection) -> bool:
    """Is ``revision`` the tip auto-sync follows, or behind it (so auto-sync deploys it)?"""
    from gitops_release.release.revisions import git_contains

    return git_contains(app, conn.settings)(app.revision, revision)


def _refused_sync(api: Any, name: str, revision: str, prune: bool) -> None:
    """A sync Argo CD is expected to refuse: its reason, at once (exit 4)."""
    try:
        api.sync(name, revision=revision, prune=prune)
    except http.BadRequest as err:
        raise RemoteError(
            f"Argo CD refused to sync {name} to {revision}: {err.server_message}",
            hint=f"{revision} is not on the branch {name} follows with auto-sync; "
            "push it there, or name a commit of that branch",
        ) from None


def wait(
    conn: Connection,
    name: str,
    target: Target,
    *,
    revision: str | None = None,
    image: str | None = None,
    rollout: str | None = None,
    out: Output,
) -> Outcome:
    if image:
        from gitops_release.images import parse_image

        parse_image(image, what="--image")
    api = conn.argocd()
    expect = Expect(revision=revision, images=(image,) if image else ())
    if revision:
        from gitops_release.release.revisions import git_contains

        expect.contains = git_contains(api.get_app(name), conn.settings)
    waiter = Waiter(api, name, target, expect, rollout_name=rollout, out=out)
    return waiter.run(conn.timeout)


def rollout_action(
    conn: Connection,
    name: str,
    action: Action,
    *,
    via: Via = Via.argocd,
    rollout: str | None = None,
    namespace: str | None = None,
    wait_released: bool = False,
    out: Output,
    plan: Plan | None = None,
) -> Acted | Plan:
    """Run one action on the app's Rollout and confirm it took; ``--wait`` then waits for released.
    With a ``plan`` (``--dry-run``) it reads the Rollout, says what it would call, and stops."""
    from gitops_release.argo import rollouts

    control: rollouts.Control
    if via is Via.dashboard:
        server = conn.settings.get("rollouts_server")
        if not server:
            raise UsageError(
                "--via dashboard needs the Rollouts dashboard address",
                hint="set ROLLOUTS_SERVER or pass --rollouts-server, e.g. http://127.0.0.1:3100",
            )
        ro_name, ro_ns = rollout or name, namespace or "default"
        if conn.settings.get("argocd_server") and not (rollout and namespace):
            app = conn.argocd().get_app(name)
            ref = find_rollout(app, name=rollout)
            ro_name, ro_ns = ref.name, ref.namespace
        client = rollouts.dashboard_client(
            str(server),
            verify=conn.settings.get("ca_bundle") or not conn.settings.get("insecure"),
            deadline=conn.deadline(),
        )
        control = rollouts.DashboardControl(client, ro_ns, ro_name)
    else:
        api = conn.argocd()
        app = api.get_app(name)
        control = rollouts.ArgoCDControl(api, name, find_rollout(app, name=rollout))
    if plan is not None:
        _, noop = rollouts.precheck(control, action, app=name)
        if noop:
            plan.nothing(noop)
            return plan
        if isinstance(control, rollouts.DashboardControl):
            ref = ResourceRef("Rollout", control.name, control.namespace, "argoproj.io")
            plan.action(name, ref, action, via="dashboard")
        else:
            plan.action(name, control.ref, action)
        if wait_released and action in (Action.promote, Action.promote_full):
            plan.wait(name, Target.released)
        return plan
    # its message is the result (stdout), not also a progress line
    result = rollouts.run(control, action, app=name, sleep=conn.sleep)
    outcome = None
    if wait_released and action in (Action.promote, Action.promote_full):
        waiter = Waiter(
            conn.argocd(),
            name,
            Target.released,
            Expect(images=result.after.images),
            rollout_name=control.label.rsplit("/", 1)[-1],
            out=out,
        )
        outcome = waiter.run(conn.timeout)
    return Acted(name, result, outcome)
