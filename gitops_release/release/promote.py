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

The image is promoted pinned to what the source runs: a digest in the live reference travels
with it; else the registry's digest of the live tag (unless ``--verify-image off``) is written as
``tag@sha256:...`` wherever the target's file reads a digest (a Helm values image without a
``digest`` key gets the tag alone), and recorded in the ``Release-Digest`` trailer either way.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitops_release.argo.connection import Connection
from gitops_release.environments import Environment, Environments
from gitops_release.errors import Failed, NotLanded, UsageError
from gitops_release.git.trailers import promoted_from
from gitops_release.images import compare_versions, parse_image, short
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
    pinned: str = ""
    """The reference written to the target: the live image pinned to its digest when known."""
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
    result, source, target, src, dst = _judge(conn, envs, req.app, req, out)
    if not result.changed or req.dry_run:
        return result
    from gitops_release.release.deploy import DeployRequest, deploy
    from gitops_release.release.plan import Plan

    deployed = deploy(
        conn,
        DeployRequest(
            tag_or_ref=result.pinned or src.live, app=dst.application, promote=req.promote,
            checks=req.checks or target.checks, expect=req.expect, ingress_url=req.ingress_url,
            check_timeout=req.check_timeout, on_failure=req.on_failure,
            merge_request=req.merge_request, supersede=False, record=req.record,
            dotenv=req.dotenv, trailers=(promoted_from(source.name, src.revision),),
            pin_where_read=True,
        ),
        out=out,
    )  # fmt: skip
    assert not isinstance(deployed, Plan)  # not a dry run: that returned above
    result.deploy = deployed.payload()
    result.changed = deployed.changed or result.changed
    result.outcome = deployed.outcome
    return result


def _judge(
    conn: Connection, envs: Environments, app: str, req: PromoteRequest, out: Output
) -> tuple[PromoteResult, Environment, Environment, Cell, Cell]:
    """Steps 1-3 for one app: what the source runs, and whether the target may take it
    (``result.changed``: something to write; raises when the promotion is refused)."""
    source, target = envs.get(req.source, flag="--from"), envs.get(req.target, flag="--to")
    if source is target:
        raise UsageError(f"--from and --to are both {source.name}", hint="name two environments")
    src, _src_app = environment_cell(conn, source, app)
    dst, _ = environment_cell(conn, target, app)
    out.progress(
        f"{app}: {source.name} ({src.application}) runs {src.live or 'nothing'}, "
        f"{target.name} ({dst.application}) runs {dst.live or 'nothing'}"
    )
    result = PromoteResult(
        app=app, source=source.name, target=target.name, source_application=src.application,
        target_application=dst.application, image=src.live, previous=dst.live,
        source_commit=src.revision, dry_run=req.dry_run, released_at=src.released_at,
        soak=req.soak if req.soak is not None else source.soak,
    )  # fmt: skip
    _require_released(app, req, src)
    if _same(dst.live, src.live) and _same(dst.git, src.live) and not dst.in_progress:
        # a re-run after success (its soak was judged then): nothing to write
        return result, source, target, src, dst
    _require_soaked(conn, replace(req, app=app), src, result)
    order = compare_versions(dst.live, src.live) if dst.live else None
    newer = order == 1 or (
        order is None
        and dst.live not in ("", src.live)
        and bool(dst.released_at)
        and dst.released_at > src.released_at
    )
    if newer and not req.allow_downgrade:
        raise NotLanded(
            f"{target.name} runs {short(dst.live)} of {app}, newer than {source.name}'s "
            f"{short(src.live)}: promoting would move {target.name} backwards",
            hint="pass --allow-downgrade if that is meant (or `gitops-release rollback`)",
        )
    result.changed = True
    result.pinned = _pinned(conn, src.live, out)
    if req.dry_run:
        result.outcome = "dry-run"
    return result, source, target, src, dst


def _same(target: str, source: str) -> bool:
    """The target runs the source's image: the same reference, or the source's tag pinned to
    a digest by an earlier promotion."""
    if not target or not source:
        return target == source
    if target == source:
        return True
    ref, src = parse_image(target, what="image"), parse_image(source, what="image")
    return not src.digest and bool(ref.digest) and str(ref.with_tag(ref.tag or "", None)) == source


def _pinned(conn: Connection, live: str, out: Output) -> str:
    """``live`` pinned to its digest: the one in the reference, else the registry's for its
    tag (not asked with ``--verify-image off``: then the tag alone)."""
    from gitops_release.registry.check import ImageCheck

    ref = parse_image(live, what="live image")
    if ref.digest or not ref.tag:
        return live
    images = ImageCheck.from_settings(conn.settings, out)
    if images.mode == "off":
        return live
    pinned = str(ref.with_tag(ref.tag, images.digest(ref)))
    out.progress(f"{short(live)}: the registry's digest pins it: {pinned}")
    return pinned


@dataclass
class SetPromoteResult:
    """``env promote api worker ...``: the apps promoted together, as one release set."""

    source: str
    target: str
    apps: list[PromoteResult]
    changed: bool = False
    dry_run: bool = False
    outcome: str = "unchanged"
    deploy: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "changed": self.changed,
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            "apps": [a.payload() for a in self.apps],
            "deploy": self.deploy,
        }

    def text(self) -> str:
        lines = [a.text() for a in self.apps]
        if self.changed and not self.dry_run:
            lines.append(
                f"promoted {len([a for a in self.apps if a.changed])} app(s) from {self.source} "
                f"to {self.target} in one commit: {self.outcome}"
            )
        return "\n".join(lines)


def promote_environments(
    conn: Connection, envs: Environments, apps: list[str], req: PromoteRequest, *, out: Output
) -> PromoteResult | SetPromoteResult:
    """``env promote APP... --from --to``: one app as :func:`promote_environment`; several as a
    release set: every app judged first (one refusal refuses them all, nothing written), then
    ONE commit with a ``Promoted-From`` trailer per app and ``deploy --set``'s flow."""
    if len(apps) == 1:
        return promote_environment(conn, envs, replace(req, app=apps[0]), out=out)
    twice = sorted({a for a in apps if apps.count(a) > 1})
    if twice:
        raise UsageError(f"{', '.join(twice)} named twice", hint="name each app once")
    judged = [_judge(conn, envs, app, req, out) for app in apps]
    source, target = judged[0][1], judged[0][2]
    result = SetPromoteResult(
        source=source.name, target=target.name, apps=[j[0] for j in judged], dry_run=req.dry_run
    )
    moving = [j for j in judged if j[0].changed]
    result.changed = bool(moving)
    if not moving or req.dry_run:
        result.outcome = "dry-run" if moving else "unchanged"
        return result
    from gitops_release.release.deploy import DeployRequest
    from gitops_release.release.plan import Plan
    from gitops_release.release.releaseset import Member
    from gitops_release.release.waves import deploy_set

    members = [
        Member(
            dst.application,
            judged_app.pinned or src.live,
            trailers=(promoted_from(source.name, src.revision),),
        )
        for judged_app, _, _, src, dst in moving
    ]
    deployed = deploy_set(
        conn,
        DeployRequest(
            tag_or_ref="", app="", promote=req.promote, checks=req.checks or target.checks,
            expect=req.expect, ingress_url=req.ingress_url, check_timeout=req.check_timeout,
            on_failure=req.on_failure, merge_request=req.merge_request, record=req.record,
            dotenv=req.dotenv, pin_where_read=True,
        ),
        members,
        [],
        out=out,
    )  # fmt: skip
    assert not isinstance(deployed, Plan)  # not a dry run: that returned above
    result.deploy = deployed.payload()
    result.outcome = deployed.outcome
    for promoted, _, _, _, dst in moving:
        promoted.outcome = deployed.results[dst.application].outcome
        promoted.deploy = deployed.results[dst.application].payload()
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
