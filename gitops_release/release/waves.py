"""``deploy --set api=v2 --set worker=v2 [--wave api --wave worker,web]``: a release set deployed
wave by wave from ONE commit, and taken back by ONE revert commit.

0. Every app is checked as ``deploy`` checks one (blue-green, no release in progress unless
   ``--supersede``, no image override in the Application); all must live in one repository and
   branch (a set is one commit). ``--wave`` naming an app outside the set, or twice: exit 2.
1. One commit for the whole set (``release.releaseset.bump_set``: a trailer group per app, each
   edit a compare-and-swap on the stable image the check saw), pushed with the re-anchor loop.
2. Per wave, its apps together: Argo CD takes the commit, each reaches ``preview-ready``, the
   smoke checks run; then (``--promote``, or any wave but the last, whose promotion a person or
   the promote job gives) each is promoted and reaches ``released`` before the next wave starts.
   An app with auto-sync takes the commit at once, whatever its wave: it then waits, paused in
   preview, until its wave promotes it.
3. A failure anywhere: every app of the set still on its way (not fully promoted) is aborted, and
   ONE revert commit writes every app's stable image back (``[skip ci]``); then each app is
   brought to ``released`` on stable (promoted again where the new version had been released).
The record lists every app's outcome; the dotenv has ``RELEASE_COMMIT`` and per-app lines
(``API_NEW_TAG=v2``...).
"""

from __future__ import annotations

import time
from dataclasses import replace

from gitops_release.argo.connection import Connection
from gitops_release.argo.types import Action, Target
from gitops_release.errors import Failed, NotLanded, ReleaseError, TimedOut, UsageError
from gitops_release.images import new_tag, pick_image, runs_tag, short, tag_of
from gitops_release.output import Output, short_sha
from gitops_release.release import smoke
from gitops_release.release.app import ReleaseApp, Selection
from gitops_release.release.deploy import (
    RECOVERY_TIMEOUT,
    DeployRequest,
    DeployResult,
    record_outcome,
    run_smoke_checks,
)
from gitops_release.release.edit import BumpRequest
from gitops_release.release.plan import Plan
from gitops_release.release.releaseset import Member, bump_set
from gitops_release.release.setapps import members_of, one_source
from gitops_release.release.setplan import arrange, plan_set
from gitops_release.release.setresult import SetDeployResult
from gitops_release.release.types import OnFailure


def deploy_set(
    conn: Connection,
    req: DeployRequest,
    members: list[Member],
    waves: list[str],
    *,
    out: Output,
) -> SetDeployResult | Plan:
    """Deploy every member (an Argo CD Application each) from one commit, wave by wave; on a
    failure, abort and revert the whole set in one commit. ``req`` carries what the apps share
    (checks, ``--promote``, ``--on-failure``, ``--record``...)."""
    from gitops_release.record import check_writable, write_dotenv_values, write_record

    if req.tag_or_ref or req.app or req.expect_current:
        raise UsageError(
            "--set and a positional tag, --app or --expect-current mixed: each app gets its "
            "tag (and :expect=) in its --set",
            hint="e.g. deploy --set api=v2 --set worker=v2:expect=v1",
        )
    smoke.compile_expect(req.expect)
    check_writable(req.record, "--record")
    check_writable(req.dotenv, "--dotenv")
    order = arrange(members, waves)
    names = [m.app for m in members]
    result = SetDeployResult(apps=names, waves=order)
    for m in members:
        result.results[m.app] = DeployResult(app=m.app, new_tag=new_tag(m.tag_or_ref))
    start = time.monotonic()
    plan = Plan(f"deploy {' '.join('--set ' + m.app for m in members)}", ", ".join(names))
    try:
        _deploy_set(conn, req, members, order, result, out, start, plan if req.dry_run else None)
    except ReleaseError as err:
        result.reason = result.reason or err.message
        if result.outcome == "running":
            result.outcome = "refused" if not result.release_commit else "failed"
        err.details = result.payload()
        raise
    finally:
        result.timings["total"] = round(time.monotonic() - start, 2)
        if not req.dry_run and req.record is not None:
            inputs = {"set": [f"{m.app}={m.tag_or_ref}" for m in members], "waves": order}
            write_record(req.record, "deploy", {"inputs": inputs, **result.payload()})
        if not req.dry_run and req.dotenv is not None:
            write_dotenv_values(req.dotenv, result.dotenv())
    return plan if req.dry_run else result


def _deploy_set(
    conn: Connection,
    req: DeployRequest,
    members: list[Member],
    order: list[list[str]],
    result: SetDeployResult,
    out: Output,
    start: float,
    plan: Plan | None,
) -> None:
    deadline = start + conn.timeout
    rels = {m.app: _checked(conn, req, m, result.results[m.app], out) for m in members}
    repo, branch = one_source(rels)
    # 1. one commit for the whole set: each edit a compare-and-swap on the stable image seen
    out.progress(f"step 1: write {len(members)} app(s) to Git in one commit")
    git_members = []
    for m, in_git in zip(members, members_of(members, rels), strict=True):
        stable = result.results[m.app].old_image
        guard = None if req.supersede else tag_of(stable) or None
        git_members.append(replace(in_git, expect_current=m.expect_current or guard))
    bump = bump_set(
        git_members,
        BumpRequest(
            tag_or_ref="", app="", repo=repo, branch=branch, container=req.container,
            image_name=req.image_name, pin_digest=req.pin_digest, skip_ci=req.skip_ci,
            merge_request=req.merge_request, dry_run=plan is not None,
            pin_where_read=req.pin_where_read,
        ),
        settings=conn.settings,
        out=out,
        image_check=next(iter(rels.values())).images,
    )  # fmt: skip
    if plan is not None:
        plan_set(plan, req, rels, order, bump, members)
        return
    result.changed = bump.changed
    result.release_commit = bump.commit or ""
    for m, landed in zip(members, bump.apps, strict=True):
        r = result.results[m.app]
        r.changed, r.new_image = landed.changed, landed.new
        r.new_tag = landed.new_tag or r.new_tag
        r.old_image = r.old_image or landed.old
        r.previous_tag = tag_of(r.old_image) or landed.previous_tag or ""
        r.release_commit = result.release_commit
    if req.merge_request:
        result.merge_request_branch = bump.merge_request_branch or ""
        result.outcome = "merge-request"
        for r in result.results.values():
            r.outcome = "merge-request"
        out.progress("merge request opened for the whole set: Argo CD deploys it once merged")
        return
    commit = result.release_commit or None
    started: list[str] = []
    try:
        for number, wave in enumerate(order, 1):
            result.failed_wave = number
            started += wave
            last = number == len(order)
            _run_wave(rels, req, result, wave, out, deadline, commit, number, last)
        result.failed_wave = None
    except (Failed, TimedOut) as err:
        result.reason = err.message
        result.outcome = "timed-out" if isinstance(err, TimedOut) else "failed"
        for app in started:
            if result.results[app].outcome == "running":
                result.results[app].outcome = result.outcome
                result.results[app].reason = err.message
        try:
            _recover(rels, req, result, members, out, err)
        except ReleaseError as again:
            result.outcome = "recovery-failed"
            raise ReleaseError(
                f"{err.message}; then going back to stable failed too: {again.message}",
                hint=again.hint
                or f"see `gitops-release status {result.apps[0]}` and each other app of the set "
                f"({', '.join(result.apps)})",
                exit_code=again.exit_code,
            ) from None
        raise
    outcomes = {result.results[a].outcome for a in result.apps}  # every wave went through
    result.outcome = "released" if outcomes == {"released"} else "preview-ready"


def _checked(
    conn: Connection, req: DeployRequest, m: Member, r: DeployResult, out: Output
) -> ReleaseApp:
    """Step 0 for one app of the set: what ``deploy`` checks before it writes anything."""
    rel = ReleaseApp(conn, m.app, out, selection=Selection(req.container, req.image_name)).load()
    rel.refuse_app_overrides()
    ro = rel.rollout()
    if ro is not None and ro.strategy != "BlueGreen":
        raise UsageError(
            f"rollout {ro.name} of {m.app} uses the {ro.strategy} strategy; deploy drives blue-green",
            hint="release it with bump-image, outside the set",
        )
    if ro is not None:
        r.old_image = rel.stable_image(ro) or ""
        busy = not ro.fully_promoted and not ro.aborted and ro.phase in ("Paused", "Progressing")
        if busy and not runs_tag(ro.images, m.tag_or_ref) and not req.supersede:
            raise NotLanded(
                f"another release of {m.app} is in progress: rollout {ro.name} is {ro.phase} "
                f"on {', '.join(ro.images)}",
                hint="promote or abort it first, or pass --supersede to replace it",
            )
    rel.check_image(m.tag_or_ref, r.old_image or (pick_image(ro.images, None) if ro else None))
    return rel


def _run_wave(
    rels: dict[str, ReleaseApp],
    req: DeployRequest,
    result: SetDeployResult,
    wave: list[str],
    out: Output,
    deadline: float,
    commit: str | None,
    number: int,
    last: bool,
) -> None:
    out.progress(f"wave {number}: {', '.join(wave)}")
    for app in wave:
        rels[app].take(commit, deadline)
    released: dict[str, bool] = {}
    for app in wave:
        r = result.results[app]
        outcome = rels[app].reach(
            Target.preview_ready, commit=commit, image=r.new_image, deadline=deadline
        )
        record_outcome(rels[app], r, outcome)
        released[app] = outcome.rollout is not None and outcome.rollout.fully_promoted
    pre = [c for c in req.checks if c != "prod" or not req.promote]
    for app in wave:
        one = replace(req, app=app)
        run_smoke_checks(rels[app], one, result.results[app], out, pre, expect_prod=released[app])
    if not req.promote and last:
        for app in wave:
            result.results[app].outcome = "released" if released[app] else "preview-ready"
        return
    if req.promote:
        for app in wave:
            if not released[app]:
                rels[app].act(Action.promote)
    else:
        out.progress(
            f"wave {number}: waiting for {', '.join(wave)} to be promoted (the next wave "
            "starts once they are released; or pass --promote)"
        )
    post = [c for c in req.checks if c == "prod"] or (["prod"] if "preview" in req.checks else [])
    for app in wave:
        r = result.results[app]
        outcome = rels[app].reach(
            Target.released, commit=commit, image=r.new_image, deadline=deadline
        )
        record_outcome(rels[app], r, outcome)
        run_smoke_checks(rels[app], replace(req, app=app), r, out, post, expect_prod=True)
        r.outcome = "released"
    out.progress(f"wave {number}: {', '.join(wave)} released")


def _recover(
    rels: dict[str, ReleaseApp],
    req: DeployRequest,
    result: SetDeployResult,
    members: list[Member],
    out: Output,
    err: ReleaseError,
) -> None:
    """Abort every app still on its way, then ONE revert commit for the whole set, then wait
    until every app is released on its stable image."""
    if req.on_failure is OnFailure.none:
        out.progress(f"release failed ({err.message}); --on-failure none: leaving the set as it is")
        return
    out.progress(f"release set failed: {err.message}; aborting every app still on its way")
    conn = next(iter(rels.values())).conn  # one connection for the whole set
    recovery = max(RECOVERY_TIMEOUT, conn.timeout / 2)
    conn.extend_deadline(recovery)  # going back gets its own time, from now
    for rel in rels.values():
        ro = rel.rollout()
        if ro is not None and not ro.fully_promoted and not ro.aborted:
            rel.act(Action.abort)
            result.results[rel.name].outcome = "aborted"
    if req.on_failure is OnFailure.abort_only:
        out.progress("--on-failure abort-only: Git still holds the set's new images")
        return
    back = [m for m in members if result.results[m.app].old_image]
    if not back:
        out.warn("no stable image known (first release?): Git is left on the new images")
        return
    deadline = time.monotonic() + recovery
    why = "timed out" if isinstance(err, TimedOut) else "failed"
    apps = ", ".join(m.app for m in back)
    subject = f"revert({apps}): back to stable after the release set {why} [skip ci]"
    revert = bump_set(
        [
            replace(in_git, tag_or_ref=result.results[m.app].old_image, expect_current=None,
                    trailers=())
            for m, in_git in zip(back, members_of(back, rels), strict=True)
        ],
        BumpRequest(
            tag_or_ref="", app="", repo=one_source(rels)[0], branch=one_source(rels)[1],
            container=req.container, image_name=req.image_name, skip_ci=True,
            message=f"{subject}\n\n{err.message}",
        ),
        settings=rels[back[0].app].conn.settings,
        out=out,
        image_check=rels[back[0].app].images,
    )  # fmt: skip
    result.revert_commit = revert.commit or ""
    commit = revert.commit or None
    out.progress(
        f"wrote the stable images back in one commit{' ' + short_sha(commit) if commit else ''}; "
        "waiting until every app of the set is Healthy on stable"
    )
    for m in back:
        rels[m.app].take(commit, deadline)
    for m in back:
        rel, r = rels[m.app], result.results[m.app]
        stable = r.old_image
        outcome = rel.reach(Target.preview_ready, commit=commit, image=stable, deadline=deadline)
        if outcome.rollout is not None and not outcome.rollout.fully_promoted:
            out.progress(f"{m.app}: {short(stable)} is back in preview; promoting it")
            rel.act(Action.promote)
        outcome = rel.reach(Target.released, commit=commit, image=stable, deadline=deadline)
        r.revert_commit = result.revert_commit
        r.argocd_revision = outcome.app.revision
        if r.outcome != "running" or r.changed:
            r.outcome = "reverted"
    result.outcome = "reverted"
    out.progress(f"every app of the set is Healthy on its stable image again ({apps})")
