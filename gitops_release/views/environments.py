"""``env status``: apps x environments, as Argo CD sees them; and one environment's app as
``env promote`` reads it.

Per cell: the version live (the image of the Rollout's active ReplicaSet: what the prod Service
routes to), the version in Git (the Rollout's target state at the Application's target revision),
sync and health, and flags:

- ``drift``: Git asks for another image than is live, and no release of it is under way;
- ``in-progress``: a release waits (the Rollout is Paused or Progressing towards another image);
- ``behind``: live is older than live in the environment before (by semver; for tags that are no
  semver, the environment before released a different image after this one did).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from gitops_release.argo.apierrors import AppNotFound
from gitops_release.argo.client import ArgoCD
from gitops_release.argo.connection import Connection
from gitops_release.argo.model import Application, Rollout, find_rollout
from gitops_release.environments import Environment, Environments
from gitops_release.errors import RemoteError, UsageError
from gitops_release.images import compare_versions, pick_image, short


@dataclass
class Cell:
    env: str
    application: str
    found: bool = True
    live: str = ""
    git: str = ""
    preview: str = ""
    sync: str = ""
    health: str = ""
    revision: str = ""
    rollout_phase: str = ""
    released_at: str = ""
    """When the Rollout last completed (``Completed`` condition): the live image's release time."""
    drift: bool = False
    behind: bool = False
    in_progress: bool = False

    @property
    def flags(self) -> list[str]:
        names = (("drift", self.drift), ("behind", self.behind), ("in-progress", self.in_progress))
        return [name for name, on in names if on] + ([] if self.found else ["missing"])

    def payload(self) -> dict[str, Any]:
        return {**asdict(self), "flags": self.flags}


def _completed_at(obj: dict[str, Any]) -> str:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Completed":
            return str(cond.get("lastTransitionTime") or "") if cond.get("status") == "True" else ""
    return ""


def _rs_image(argocd: ArgoCD, app: str, ro: Rollout, pod_hash: str) -> str:
    if not pod_hash:
        return ""
    try:
        rs = argocd.replica_set(app, f"{ro.name}-{pod_hash}", ro.namespace)
    except RemoteError:
        return ""
    return pick_image(rs.images, None) or ""


def read_cell(argocd: ArgoCD, env: str, name: str) -> tuple[Cell, Application | None]:
    """One environment's Application: what runs, what Git asks for, and its state."""
    cell = Cell(env=env, application=name)
    try:
        app = argocd.get_app(name)
    except AppNotFound:
        cell.found = False
        return cell, None
    cell.sync, cell.health, cell.revision = app.sync_status, app.health, app.revision
    if not any(r.kind == "Rollout" for r in app.resources):
        return cell, app
    ref = find_rollout(app)
    try:
        obj = argocd.live_object(name, ref)
    except RemoteError:
        obj = {}
    target = argocd.target_object(name, ref) or {}
    containers = (((target.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    cell.git = pick_image([str(c.get("image")) for c in containers if c.get("image")], None) or ""
    if not obj:
        return cell, app
    ro = Rollout.from_json(obj)
    cell.rollout_phase = ro.phase
    cell.live = _rs_image(argocd, name, ro, ro.active_selector)
    if ro.preview_selector and ro.preview_selector != ro.active_selector:
        cell.preview = _rs_image(argocd, name, ro, ro.preview_selector)
    cell.in_progress = (
        not ro.fully_promoted and not ro.aborted and ro.phase in ("Paused", "Progressing")
    )
    cell.released_at = _completed_at(obj) if ro.fully_promoted else ""
    cell.drift = bool(cell.git and cell.live and cell.git != cell.live and not cell.in_progress)
    return cell, app


def is_behind(cell: Cell, before: Cell) -> bool:
    if not (cell.live and before.live) or cell.live == before.live:
        return False
    order = compare_versions(cell.live, before.live)
    if order is not None:
        return order < 0
    return bool(before.released_at and cell.released_at and before.released_at > cell.released_at)


@dataclass
class Matrix:
    environments: list[str]
    rows: dict[str, list[Cell]] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {
            "environments": self.environments,
            "apps": [
                {"app": app, "environments": [c.payload() for c in cells]}
                for app, cells in self.rows.items()
            ],
        }

    def text(self) -> str:
        head = ("APP", "ENV", "APPLICATION", "LIVE", "GIT", "SYNC", "HEALTH", "FLAGS")
        lines: list[tuple[str, ...]] = [head]
        for app, cells in self.rows.items():
            for c in cells:
                if not c.found:
                    lines.append((app, c.env, c.application, "-", "-", "-", "-", "missing"))
                    continue
                live = short(c.live) + (f" (preview {short(c.preview)})" if c.preview else "")
                lines.append(
                    (
                        app,
                        c.env,
                        c.application,
                        live or "-",
                        short(c.git) or "-",
                        c.sync,
                        c.health,
                        ",".join(c.flags),
                    )
                )
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        return "\n".join(
            "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
            for line in lines
        )


def discover(apps: Sequence[Application], envs: Environments) -> list[str]:
    """The apps that have an Application in some environment, by the environments' patterns."""
    found: dict[str, None] = {}
    for env in envs.order:
        pattern = re.escape(env.application).replace(re.escape("{app}"), "(?P<app>.+)")
        pattern = pattern.replace(re.escape("{env}"), re.escape(env.name))
        by_exception = {v: k for k, v in env.applications.items()}
        for app in apps:
            m = re.fullmatch(pattern, app.name)
            name = by_exception.get(app.name) or (m.group("app") if m else None)
            if name:
                found[name] = None
    return sorted(found)


def env_status(conn: Connection, envs: Environments, apps: Sequence[str] = ()) -> Matrix:
    if not envs.order:
        envs.get("")  # raises: no environments configured
    argocd = conn.argocd()
    names = list(dict.fromkeys(apps)) or discover(argocd.list_apps(), envs)
    if not names:
        raise UsageError(
            f"no Application in Argo CD matches an environment of {envs.source}",
            hint="name the apps, or check the application patterns",
        )
    matrix = Matrix(environments=envs.names)
    for app in names:
        cells: list[Cell] = []
        for env in envs.order:
            cell, _ = read_cell(argocd, env.name, env.app_name(app))
            if cells and cell.found:
                cell.behind = is_behind(cell, cells[-1])
            cells.append(cell)
        matrix.rows[app] = cells
    return matrix


def environment_cell(conn: Connection, env: Environment, app: str) -> tuple[Cell, Application]:
    """``env promote``'s read of one side; an app missing there is bad input (exit 2)."""
    cell, application = read_cell(conn.argocd(), env.name, env.app_name(app))
    if application is None:
        raise UsageError(
            f"app {app} has no Application {env.app_name(app)} in environment {env.name}",
            hint="create it, or map it in the environment's applications table",
        )
    return cell, application
