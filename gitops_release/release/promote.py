"""``env promote APP --from staging --to prod``: write what the source environment verifiably runs
to the target's Git, then release it there with ``deploy``'s flow.

1. Both environments are in the config and the app has an Application in each (else exit 2).
2. The source's **live** image (its Rollout's active ReplicaSet; Git may be ahead of what was
   verified), and the source Synced, Healthy, released on it (no release waiting), released longer
   ago than the soak (``--soak``, else the environment's ``soak``): else exit 1 saying when.
   "Now" is the later of this machine's clock and the source's ``reconciledAt`` after a refresh,
   so a client clock behind the cluster's cannot shorten the soak.
3. The target already runs it: exit 0, ``"changed": false``. The target newer (semver, else
   release time): exit 5 unless ``--allow-downgrade``.
4. ``deploy`` on the target with a ``Promoted-From: staging@<commit>`` trailer: preview, checks
   (``--check``, else the target environment's ``checks``), the gate or ``--promote``, and on
   failure the abort and the Git revert.

The image is promoted as the source runs it: a digest in the live reference travels with it.
(Pinned to the registry's digest when the registry issue's digest lookup is available.)
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitops_release.argo.connection import Connection
from gitops_release.environments import Environments
from gitops_release.errors import Failed, NotLanded, UsageError
from gitops_release.git.trailers import promoted_from
from gitops_release.images import compare_versions, short
from gitops_release.output import Output, short_sha
from gitops_release.release.types import OnFailure
from gitops_release.views.environments import Cell, environment_cell


@dataclass(frozen=True)
class PromoteRequest:
    app: str
    source: str
    target: str
    soak: float | None = None
    promote: bool = False
    checks: tuple[str, ...] = ()
    expect: str | None = None
    ingress_url: str | None = None
    check_timeout: float = 60.0
    allow_downgrade: bool = False
    merge_request: bool = False
    on_failure: OnFailure = OnFailure.revert
    dry_run: bool = False
    record: Path | None = None
    dotenv: Path | None = None


@dataclass
class PromoteResult:
    app: str
    source: str
    target: str
    source_application: str
    target_application: str
    image: str
    previous: str
    source_commit: str
    changed: bool = False
    dry_run: bool = False
    outcome: str = "unchanged"
    released_at: str = ""
    soak: float = 0.0
    deploy: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        if not self.changed and not self.dry_run:
            return (
                f"{self.target} already runs what {self.source} runs: "
                f"{self.app} {short(self.image)} ({self.target_application})"
            )
        if self.dry_run:
            return (
                f"would promote {self.app} {short(self.previous) or '-'} -> {short(self.image)} "
                f"from {self.source} ({self.source_application} at {short_sha(self.source_commit)}) "
                f"to {self.target} ({self.target_application})"
            )
        return (
            f"promoted {self.app} {short(self.image)} from {self.source} to {self.target}: "
            f"{self.outcome}"
        )


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")


def _require_released(app: str, req: PromoteRequest, src: Cell) -> None:
    where = f"{app} in {req.source} ({src.application})"
    if not src.live:
        raise Failed(f"{where} runs no Rollout image yet", hint="release it there first")
    problems = [
        what
        for what, bad in (
            (f"sync is {src.sync}", src.sync != "Synced"),
            (f"health is {src.health}", src.health != "Healthy"),
            (f"a release of {short(src.preview)} is in progress", src.in_progress),
            ("its rollout has not completed", not src.released_at),
        )
        if bad
    ]
    if problems:
        raise Failed(
            f"{where} is not released on {short(src.live)}: {'; '.join(problems)}",
            hint=f"see `gitops-release status {src.application}`; promote once it is released",
        )


def promote_environment(
    conn: Connection, envs: Environments, req: PromoteRequest, *, out: Output
) -> PromoteResult:
    source, target = envs.get(req.source, flag="--from"), envs.get(req.target, flag="--to")
    if source is target:
        raise UsageError(f"--from and --to are both {source.name}", hint="name two environments")
    src, _src_app = environment_cell(conn, source, req.app)
    dst, _ = environment_cell(conn, target, req.app)
    out.progress(
        f"{req.app}: {source.name} ({src.application}) runs {src.live or 'nothing'}, "
        f"{target.name} ({dst.application}) runs {dst.live or 'nothing'}"
    )
    result = PromoteResult(
        app=req.app, source=source.name, target=target.name, source_application=src.application,
        target_application=dst.application, image=src.live, previous=dst.live,
        source_commit=src.revision, dry_run=req.dry_run, released_at=src.released_at,
        soak=req.soak if req.soak is not None else source.soak,
    )  # fmt: skip
    _require_released(req.app, req, src)
    if dst.live == src.live and dst.git == src.live and not dst.in_progress:
        return result  # a re-run after success (its soak was judged then): nothing to write
    _require_soaked(conn, req, src, result)
    order = compare_versions(dst.live, src.live) if dst.live else None
    newer = order == 1 or (
        order is None
        and dst.live not in ("", src.live)
        and bool(dst.released_at)
        and dst.released_at > src.released_at
    )
    if newer and not req.allow_downgrade:
        raise NotLanded(
            f"{target.name} runs {short(dst.live)} of {req.app}, newer than {source.name}'s "
            f"{short(src.live)}: promoting would move {target.name} backwards",
            hint="pass --allow-downgrade if that is meant (or `gitops-release rollback`)",
        )
    result.changed = True
    if req.dry_run:
        result.outcome = "dry-run"
        return result
    from gitops_release.release.deploy import DeployRequest, deploy
    from gitops_release.release.plan import Plan

    deployed = deploy(
        conn,
        DeployRequest(
            tag_or_ref=src.live, app=dst.application, promote=req.promote,
            checks=req.checks or target.checks, expect=req.expect, ingress_url=req.ingress_url,
            check_timeout=req.check_timeout, on_failure=req.on_failure,
            merge_request=req.merge_request, supersede=False, record=req.record,
            dotenv=req.dotenv, trailers=(promoted_from(source.name, src.revision),),
        ),
        out=out,
    )  # fmt: skip
    assert not isinstance(deployed, Plan)  # not a dry run: that returned above
    result.deploy = deployed.payload()
    result.changed = deployed.changed or result.changed
    result.outcome = deployed.outcome
    return result


def _require_soaked(
    conn: Connection, req: PromoteRequest, src: Cell, result: PromoteResult
) -> None:
    released = _time(src.released_at)
    if released is None:
        raise Failed(f"{src.application}: cannot tell when {short(src.live)} was released")
    now = datetime.fromtimestamp(time.time(), UTC)
    # the cluster's clock, when it is ahead of ours: a fresh reconcile's timestamp
    seen = _time(conn.argocd().refresh(src.application).reconciled_at)
    now = max(now, seen) if seen else now
    ready = released.timestamp() + result.soak
    if now.timestamp() < ready:
        when = datetime.fromtimestamp(ready, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise Failed(
            f"{req.app} {short(src.live)} in {req.source} was released at {src.released_at} "
            f"and has not soaked {_duration(result.soak)} yet: it will have soaked at {when} "
            f"(in {_duration(ready - now.timestamp())})",
            hint="run again then, or pass a shorter --soak",
        )
