"""``deploy TAG_OR_REF --app APP``: one CI step from a new tag to a preview (or a promoted release).

0. Refuse (exit 5) while another release of the app is in progress (its Rollout Paused or
   Progressing towards a different image) unless ``--supersede``; refuse (exit 2) when the
   Application overrides the image itself (a Git bump would not take effect).
1. Write the image to Git and push (``bump-image``'s edit, push loop and trailers).
2. Refresh Argo CD at once; sync unless auto-sync will; wait for ``preview-ready`` pinned to our
   commit and image.
3. Smoke-check the preview (``--check``).
4. ``--promote``: promote, wait for ``released``, smoke-check prod.
5. On a failure in 2-4: abort the Rollout (traffic stays on stable), write the stable image back
   to Git (``[skip ci]``, the message says why), wait until the app is Healthy on it, and exit 1
   (6 when it was a timeout). ``--on-failure abort-only|none`` does less.

Re-running the same deploy is safe: the Git write is a no-op when the tip already holds the
image, and the waits start from whatever state they find.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitops_release import journal
from gitops_release.argo.connection import Connection
from gitops_release.argo.types import Target
from gitops_release.errors import (
    ExpectCurrentMismatch,
    Failed,
    NotLanded,
    ReleaseError,
    TimedOut,
    UsageError,
)
from gitops_release.git.trailers import revert_subject
from gitops_release.images import (
    new_tag,
    parse_image,
    pick_image,
    runs_tag,
    short,
    tag_of,
)
from gitops_release.output import Output, short_sha
from gitops_release.registry.ranges import pick_tag
from gitops_release.release import smoke
from gitops_release.release.app import ReleaseApp, Selection
from gitops_release.release.bump import check_semver_request, check_target
from gitops_release.release.plan import Plan
from gitops_release.release.types import OnFailure

RECOVERY_TIMEOUT = 300.0


@dataclass(frozen=True)
class DeployRequest:
    tag_or_ref: str
    app: str
    repo: str | None = None
    path: str | None = None
    rollout: str | None = None
    container: str | None = None
    image_name: str | None = None
    digest: str | None = None
    pin_digest: bool = False
    expect_current: str | None = None
    skip_ci: bool = False
    merge_request: bool = False
    promote: bool = False
    supersede: bool = False
    checks: tuple[str, ...] = ()
    expect: str | None = None
    status: int | None = None
    ingress_url: str | None = None
    check_timeout: float = 60.0
    on_failure: OnFailure = OnFailure.revert
    record: Path | None = None
    dotenv: Path | None = None
    dry_run: bool = False
    trailers: tuple[tuple[str, str], ...] = ()
    """Extra trailers of the release commit (``env promote``'s ``Promoted-From``)."""
    semver: str | None = None
    """Pick the tag: the highest in the registry satisfying this range (TAG_OR_REF then names
    the repository, or is empty for the image the app runs)."""
    pin_where_read: bool = False
    """``env promote``: write the image's digest only where the file reads one."""


@dataclass
class DeployResult:
    app: str
    outcome: str = "running"
    """preview-ready, released, failed, reverted, timed-out."""
    changed: bool = False
    old_image: str = ""
    new_image: str = ""
    previous_tag: str = ""
    new_tag: str = ""
    release_commit: str = ""
    revert_commit: str = ""
    argocd_revision: str = ""
    operation: str = ""
    rollout_revision: int | None = None
    preview_url: str = ""
    prod_url: str = ""
    checks: list[smoke.CheckResult] = field(default_factory=list)
    analysis: list[dict[str, Any]] = field(default_factory=list)
    """The Rollout's pre/post-promotion AnalysisRuns (:func:`argo.analysis.run_payload`)."""
    timings: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    semver: dict[str, Any] | None = None
    """--semver: the range, the tags that satisfy it (highest first) and the one chosen."""
    render: str | None = None
    """How the edited chart or kustomization was rendered, or ``not rendered (why)``; None for
    plain manifests (the bump's own report)."""
    rendered: list[dict[str, str]] | None = None
    """What will actually be deployed: the containers the render runs the new image in."""

    def payload(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "checks"}
        data["checks"] = [c.payload() for c in self.checks]
        return data

    def dotenv(self) -> dict[str, object]:
        return {
            "RELEASE_COMMIT": self.release_commit or self.argocd_revision,
            "PREVIOUS_TAG": self.previous_tag,
            "NEW_TAG": self.new_tag,
            "PREVIEW_URL": self.preview_url,
            "PROD_URL": self.prod_url,
            "ROLLOUT_REVISION": self.rollout_revision or "",
        }

    def text(self) -> str:
        where = f" (preview {self.preview_url})" if self.preview_url else ""
        if self.outcome == "merge-request":
            return f"{self.app}: merge request opened for {self.new_image}; Argo CD deploys it once merged"
        if self.outcome == "preview-ready":
            return f"{self.app}: {self.new_image} is preview-ready{where}; promote with `gitops-release promote {self.app}`"
        return f"{self.app}: {self.new_image} released" + (
            f" ({self.prod_url})" if self.prod_url else ""
        )


def _check_input(req: DeployRequest) -> None:
    check_target(req.semver, req.tag_or_ref)
    smoke.compile_expect(req.expect)
    from gitops_release.record import check_writable

    check_writable(req.record, "--record")
    check_writable(req.dotenv, "--dotenv")


def deploy(conn: Connection, req: DeployRequest, *, out: Output) -> DeployResult | Plan:
    """Run the release; the record and dotenv are written whatever the outcome (not on a dry
    run, which returns the :class:`Plan` instead and writes nothing)."""
    from gitops_release.record import write_record

    _check_input(req)
    start = time.monotonic()
    result = DeployResult(app=req.app, new_tag=new_tag(req.tag_or_ref))
    if req.dry_run:
        what = f"{req.tag_or_ref} --semver {req.semver}" if req.semver else req.tag_or_ref
        plan = Plan(f"deploy {what.strip()} --app {req.app}", req.app)
        _deploy(conn, req, result, out, start, plan)
        return plan
    try:
        _deploy(conn, req, result, out, start)
    except ReleaseError as err:
        result.reason = result.reason or err.message
        if result.outcome == "running":
            result.outcome = "refused" if result.release_commit == "" else "failed"
        err.details = result.payload()
        raise
    finally:
        result.timings["total"] = round(time.monotonic() - start, 2)
        if req.record is not None:
            write_record(req.record, "deploy", {"inputs": _inputs(req), **result.payload()})
        if req.dotenv is not None:
            from gitops_release.record import write_dotenv

            write_dotenv(req.dotenv, result.dotenv())
    return result


def _inputs(req: DeployRequest) -> dict[str, Any]:
    data = {k: (str(v) if isinstance(v, Path) else v) for k, v in req.__dict__.items()}
    data["checks"] = list(req.checks)
    return data


def _deploy(
    conn: Connection,
    req: DeployRequest,
    result: DeployResult,
    out: Output,
    start: float,
    plan: Plan | None = None,
) -> None:
    deadline = start + conn.timeout
    rel = ReleaseApp(
        conn, req.app, out, repo=req.repo, path=req.path, rollout_name=req.rollout,
        selection=Selection(req.container, req.image_name),
    ).load()  # fmt: skip
    out.progress(f"deploy {req.tag_or_ref} to {req.app}: checking the app and its rollout")
    rel.refuse_app_overrides()
    ro = rel.rollout()
    if ro is not None and ro.strategy != "BlueGreen":
        # The target states (preview-ready, released) are blue-green ones: a canary Rollout
        # would be called "released" while its steps still run.
        raise UsageError(
            f"rollout {ro.name} of {req.app} uses the {ro.strategy} strategy; deploy drives blue-green",
            hint="give the Rollout strategy.blueGreen (see `gitops-release scaffold`), "
            "or release it with bump-image and the Rollouts tools",
        )
    if ro is not None:
        result.old_image = rel.stable_image(ro) or ""
    if req.semver:
        req = _pick_semver(rel, req, result, result.old_image or _running(ro), out, plan)
    if ro is not None:
        in_progress = (
            not ro.fully_promoted and not ro.aborted and ro.phase in ("Paused", "Progressing")
        )
        if in_progress and not runs_tag(ro.images, req.tag_or_ref):
            if not req.supersede:
                raise NotLanded(
                    f"another release of {req.app} is in progress: rollout {ro.name} is {ro.phase} "
                    f"on {', '.join(ro.images)}",
                    hint="promote or abort it first, or pass --supersede to replace it",
                )
            out.progress(f"superseding the release in progress ({', '.join(ro.images)})")
    stable = result.old_image
    rel.check_image(
        req.tag_or_ref, stable or pick_image(ro.images, None) if ro else None, req.digest
    )

    # 1. Git
    out.progress(f"step 1/4: write {req.tag_or_ref} to Git")
    t = time.monotonic()
    # Two deploys can pass the check above at the same moment: unless told otherwise, the Git
    # write is a compare-and-swap on the image that check saw, so only one of them lands.
    guard = req.expect_current or (None if req.supersede else tag_of(stable) or None)
    try:
        bump = rel.write_image(
            req.tag_or_ref, skip_ci=req.skip_ci, expect_current=guard,
            merge_request=req.merge_request, digest=req.digest, dry_run=plan is not None,
            pin_digest=req.pin_digest, trailers=req.trailers, pin_where_read=req.pin_where_read,
        )  # fmt: skip
    except ExpectCurrentMismatch as err:
        if req.expect_current or guard is None:
            raise
        raise NotLanded(
            f"another release of {req.app} landed in Git meanwhile: {err.found}",
            hint="promote or abort it first, or pass --supersede to replace it",
        ) from None
    if plan is not None:
        _plan_rest(rel, req, bump, plan)
        return
    result.timings["git"] = round(time.monotonic() - t, 2)
    result.changed = bump.changed
    result.new_image = bump.new
    result.new_tag = bump.new_tag or result.new_tag
    result.old_image = stable or bump.old
    result.previous_tag = tag_of(result.old_image) or bump.previous_tag or ""
    result.release_commit = bump.commit or ""
    result.render, result.rendered = bump.render, bump.rendered
    if not req.merge_request:
        short = f" (commit {short_sha(bump.commit)})" if bump.commit else ""
        journal.note("git", f"Git holds {bump.new}{short}", changed=bump.changed)
        journal.note("argocd", "Argo CD was not refreshed", changed=False)
        journal.next_step(
            f"re-run `gitops-release deploy {req.tag_or_ref} --app {req.app}` to continue, "
            f"or `gitops-release rollback {req.app}` to undo"
        )
    if not bump.changed:
        out.progress(f"Git already holds {bump.new}: continuing from the state Argo CD is in")
    if req.merge_request:
        result.outcome = "merge-request"
        out.progress("merge request opened: Argo CD deploys it once merged")
        return

    gated = ro is not None and (ro.pre_analysis_wanted or ro.post_analysis_wanted)
    try:
        _roll_out(rel, req, result, out, deadline, watch_analysis=gated)
    except (Failed, TimedOut) as err:
        result.reason = err.message
        result.outcome = "timed-out" if isinstance(err, TimedOut) else "failed"
        try:
            _recover(rel, req, result, out, stable or bump.old, err)
        except ReleaseError as again:
            result.outcome = "recovery-failed"
            raise ReleaseError(
                f"{err.message}; then going back to stable failed too: {again.message}",
                hint=again.hint or f"see `gitops-release status {req.app}`",
                exit_code=again.exit_code,
            ) from None
        raise


def _running(ro: Any) -> str | None:
    return pick_image(ro.images, None) if ro is not None and ro.images else None


def _pick_semver(
    rel: ReleaseApp,
    req: DeployRequest,
    result: DeployResult,
    like: str | None,
    out: Output,
    plan: Plan | None,
) -> DeployRequest:
    """``--semver``: the registry's tags decide the tag, before Git is touched; the release
    then goes on as if that tag had been given."""
    assert req.semver
    repository = check_semver_request(req.semver, req.tag_or_ref)
    if repository is None:
        if not like:
            raise UsageError(
                f"--semver {req.semver}: {req.app} runs no image to take the repository from",
                hint="give the image repository: deploy REGISTRY/TEAM/APP --semver RANGE",
            )
        repository = parse_image(like)
    pick = pick_tag(rel.images.tags(repository), req.semver, image=repository.name)
    shown = ", ".join(pick.candidates[:10])
    more = len(pick.candidates) - 10
    out.progress(
        f"--semver {pick.range}: {len(pick.candidates)} tag(s) of {repository.name} satisfy it "
        f"({shown}{f', {more} more' if more > 0 else ''}); choosing {pick.choice}"
    )
    if plan is not None:
        plan.notes.append(
            f"--semver {pick.range}: candidates {', '.join(pick.candidates)}; choice {pick.choice}"
        )
    result.semver = {"range": pick.range, "candidates": pick.candidates, "choice": pick.choice}
    result.new_tag = pick.choice
    chosen = f"{repository.name}:{pick.choice}" if req.tag_or_ref else pick.choice
    return replace(req, tag_or_ref=chosen)


def _plan_rest(rel: ReleaseApp, req: DeployRequest, bump: Any, plan: Plan) -> None:
    """The dry run from the Git write on: the diff, then the Argo CD calls steps 2-4 make."""
    if req.merge_request:
        plan.add(f"open a merge request with the change into {bump.branch} of {bump.repo}")
        plan.diff += bump.diff
        return
    plan.git(bump, why="step 1: the release commit, with its trailers")
    plan.take(req.app, auto_sync=rel.app.auto_sync, revision="<the release commit>")
    plan.wait(req.app, Target.preview_ready, bump.new)
    pre = [c for c in req.checks if c != "prod" or not req.promote]
    for check in pre:
        plan.add(f"smoke-check {check}" + (f" for {req.expect!r}" if req.expect else ""))
    if req.promote:
        plan.action(req.app, rel.ref if rel.has_rollout() else None, _promote())
        plan.wait(req.app, Target.released, bump.new)
        post = [c for c in req.checks if c == "prod"] or (
            ["prod"] if "preview" in req.checks else []
        )
        for check in post:
            plan.add(f"smoke-check {check}" + (f" for {req.expect!r}" if req.expect else ""))


def _roll_out(
    rel: ReleaseApp,
    req: DeployRequest,
    result: DeployResult,
    out: Output,
    deadline: float,
    *,
    watch_analysis: bool = False,
) -> None:
    commit = result.release_commit or None
    out.progress(f"step 2/4: Argo CD takes {short_sha(commit) if commit else 'the tip'}")
    t = time.monotonic()
    rel.take(commit, deadline)
    outcome = rel.reach(
        Target.preview_ready, commit=commit, image=result.new_image, deadline=deadline,
        watch_analysis=watch_analysis,
    )  # fmt: skip
    result.timings["preview_ready"] = round(time.monotonic() - t, 2)
    record_outcome(rel, result, outcome)
    _analysis(rel, result, out, outcome.rollout)
    released = outcome.rollout is not None and outcome.rollout.fully_promoted
    pre = [c for c in req.checks if c != "prod" or not req.promote]
    out.progress(
        f"step 3/4: smoke checks ({len(pre)})" if pre else "step 3/4: no smoke checks asked"
    )
    t = time.monotonic()
    run_smoke_checks(rel, req, result, out, pre, expect_prod=released)
    result.timings["checks"] = round(time.monotonic() - t, 2)
    if not req.promote:
        result.outcome = "released" if released else "preview-ready"
        out.progress(
            f"{req.app}: {result.outcome}"
            + ("" if released else "; promotion left to a person or the promote job")
        )
        return
    out.progress("step 4/4: promote and wait for released")
    t = time.monotonic()
    if not released:
        rel.act(_promote())
    outcome = rel.reach(
        Target.released, commit=commit, image=result.new_image, deadline=deadline,
        watch_analysis=watch_analysis,
    )  # fmt: skip
    record_outcome(rel, result, outcome)
    _analysis(rel, result, out, outcome.rollout)
    post = [c for c in req.checks if c == "prod"] or (["prod"] if "preview" in req.checks else [])
    run_smoke_checks(rel, req, result, out, post, expect_prod=True)
    result.timings["promote"] = round(time.monotonic() - t, 2)
    result.outcome = "released"


def _promote() -> Any:
    from gitops_release.argo.types import Action

    return Action.promote


def record_outcome(rel: ReleaseApp, result: DeployResult, outcome: Any) -> None:
    """Put what reaching a target state saw in ``result``: Argo CD's revision and operation,
    the Rollout's revision, the prod and preview URLs (the smoke checks' addresses)."""
    app = outcome.app
    result.argocd_revision = app.revision
    result.operation = f"{app.operation.phase}: {app.operation.message}" if app.operation else ""
    result.rollout_revision = rel.rollout_revision(outcome.rollout)
    result.prod_url, result.preview_url = rel.urls(outcome.rollout)


def _analysis(rel: ReleaseApp, result: DeployResult, out: Output, ro: Any) -> None:
    """Record the Rollout's AnalysisRuns (replacing an earlier look at the same run) and say
    how each one newly seen as finished ended."""
    from gitops_release.argo import analysis

    for which, run in rel.analysis_runs(ro):
        seen = [r for r in result.analysis if r["name"] == run.name]
        payload = analysis.run_payload(which, run)
        if seen and seen[0]["phase"] == payload["phase"]:
            continue
        result.analysis = [r for r in result.analysis if r["name"] != run.name] + [payload]
        if run.phase in ("Successful", "Failed", "Error", "Inconclusive"):
            out.progress(analysis.summary(which, run))


def run_smoke_checks(
    rel: ReleaseApp,
    req: DeployRequest,
    result: DeployResult,
    out: Output,
    specs: list[str],
    *,
    expect_prod: bool,
) -> None:
    """Run the smoke checks ``specs`` (``preview``, ``prod``, ``URL``) against ``result``'s
    URLs, into ``result.checks``; before promotion ``prod`` serves the stable version: status
    only. ``deploy`` and each app of ``deploy --set`` run them alike."""
    if not specs:
        return
    checks = []
    ingress_url = req.ingress_url or rel.conn.settings.get("ingress_url")
    for spec in specs:
        expect = req.expect if spec != "prod" or expect_prod else None
        checks += smoke.plan(
            [spec], prod_url=result.prod_url, preview_url=result.preview_url,
            expect=expect, status=req.status, ingress_url=ingress_url,
        )  # fmt: skip
    verify = rel.conn.settings.get("ca_bundle") or not rel.conn.settings.get("insecure")
    smoke.run_all(
        checks, timeout=req.check_timeout, out=out, verify=verify, into=result.checks,
        deadline=rel.conn.deadline(),
    )  # fmt: skip


def _recover(
    rel: ReleaseApp,
    req: DeployRequest,
    result: DeployResult,
    out: Output,
    stable: str,
    err: ReleaseError,
) -> None:
    """Step 5: abort, write the stable image back to Git, wait for Healthy on it."""
    from gitops_release.argo.types import Action

    if req.on_failure is OnFailure.none:
        out.progress(f"release failed ({err.message}); --on-failure none: leaving it as it is")
        with contextlib.suppress(ReleaseError):  # a spent --timeout: recorded without the runs
            _analysis(rel, result, out, rel.rollout())
        return
    out.progress(f"release failed: {err.message}; aborting the rollout (traffic stays on stable)")
    # going back to stable gets its own time: the release's --timeout may be spent already
    recovery = max(RECOVERY_TIMEOUT, rel.conn.timeout / 2)
    rel.conn.extend_deadline(recovery)
    ro = rel.rollout()
    _analysis(rel, result, out, ro)  # before the abort: the runs as they ended
    if ro is not None and not ro.fully_promoted:
        rel.act(Action.abort)
    if req.on_failure is OnFailure.abort_only:
        out.progress(
            "--on-failure abort-only: Git still holds the new image; the app stays Degraded"
        )
        return
    if not stable:
        out.warn("no stable image known (first release?): Git is left on the new image")
        return
    deadline = time.monotonic() + recovery
    why = "timed out" if isinstance(err, TimedOut) else "failed"
    message = revert_subject(req.app, short(stable), f"{short(result.new_image)} {why}")
    result.revert_commit, outcome = rel.restore(
        stable, message=f"{message}\n\n{err.message}", deadline=deadline
    )
    result.argocd_revision = outcome.app.revision
    result.outcome = "reverted"


@dataclass
class Verified:
    """``verify``: every smoke check passed (a failing one raises)."""

    app: str
    checks: list[smoke.CheckResult]

    def text(self) -> str:
        return "\n".join(f"{r.check}: {r.url}: passed ({r.detail})" for r in self.checks)

    def payload(self) -> dict[str, Any]:
        return {"app": self.app, "checks": [r.payload() for r in self.checks], "ok": True}


def verify(
    conn: Connection,
    name: str,
    *,
    targets: tuple[str, ...],
    expect: str | None = None,
    status: int | None = None,
    ingress_url: str | None = None,
    check_timeout: float = 60.0,
    rollout: str | None = None,
    out: Output,
) -> Verified:
    """``verify APP --preview|--prod``: the smoke checks on their own (exit 1 when one fails)."""
    smoke.compile_expect(expect)
    rel = ReleaseApp(conn, name, out, rollout_name=rollout).load()
    prod_url, preview_url = rel.urls(rel.rollout())
    checks = smoke.plan(
        targets, prod_url=prod_url, preview_url=preview_url, expect=expect, status=status,
        ingress_url=ingress_url or conn.settings.get("ingress_url"),
    )  # fmt: skip
    verify_tls = conn.settings.get("ca_bundle") or not conn.settings.get("insecure")
    # each check's pass is the result (stdout), not also a progress line; --timeout bounds them
    results = smoke.run_all(
        checks,
        timeout=check_timeout,
        out=out,
        verify=verify_tls,
        report_pass=False,
        deadline=conn.deadline(),
    )
    return Verified(name, results)
