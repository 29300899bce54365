"""GitOps-consistent ``abort`` and ``rollback``: Git stays the truth.

- ``abort APP``: the Rollout's abort action first (traffic stays on stable at once), then the
  stable image written back to Git (``[skip ci]``), so Argo CD and Git agree again and the
  Degraded state clears; then wait until the app is Healthy on stable. ``--no-revert`` only aborts.
- ``rollback APP [--to TAG]``: a Git change to the previous (or named) image. "Previous" is read
  from the ``Release-Image`` / ``Release-Previous`` trailers of the app's commits, newest first,
  skipping images a revert commit moved away from (failed releases). Then refresh, wait for
  ``preview-ready`` and, with ``--promote``, ``released`` (a fast rollback, whose old ReplicaSet
  is still inside its scale-down delay, goes straight to released, which counts too).
- ``--via argocd-history``: Argo CD's own history rollback, for teams without auto-sync (Argo CD
  refuses it with auto-sync on). It leaves Git on the newer image: the command says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gitops_release.argo.connection import Connection
from gitops_release.argo.model import Rollout
from gitops_release.argo.types import Action, Target, Via
from gitops_release.errors import ReleaseError, UsageError
from gitops_release.git.trailers import Released, revert_subject, rollback_subject
from gitops_release.images import (
    ImageRef,
    is_reference,
    parse_image,
    pick_image,
    resolve_target,
    runs_tag,
    short,
)
from gitops_release.output import Output, short_sha
from gitops_release.release.app import ReleaseApp
from gitops_release.release.control import Acted, rollout_action
from gitops_release.release.plan import Plan

DEPTH = 200


@dataclass
class GitResult:
    app: str
    action: str
    outcome: str
    changed: bool = False
    from_image: str = ""
    to_image: str = ""
    commit: str = ""
    argocd_revision: str = ""
    message: str = ""

    def text(self) -> str:
        return self.message

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Aborted:
    """``abort``: the Rollout action, then the stable image written back to Git (``revert``)."""

    acted: Acted
    revert: GitResult

    def text(self) -> str:
        return self.revert.message or self.acted.action.message

    def payload(self) -> dict[str, Any]:
        data = self.acted.payload()
        data["changed"] = self.acted.action.changed or self.revert.changed
        data["revert"] = self.revert.payload()
        return data


def abort(
    conn: Connection,
    name: str,
    *,
    revert: bool = True,
    via: Via = Via.argocd,
    rollout: str | None = None,
    namespace: str | None = None,
    record: Path | None = None,
    out: Output,
    dry_run: bool = False,
) -> Aborted | Plan:
    """Abort the update (any ``--via``), then by default write the stable image back to Git
    (through the Argo CD Application's source) and wait until the app is Healthy on it."""

    new = stable = ""
    rel = None
    if revert:
        if not conn.settings.get("argocd_server"):
            raise UsageError(
                "abort writes the stable image back to Git through the Argo CD app, so it needs ARGOCD_SERVER",
                hint="set ARGOCD_SERVER (or --server), or pass --no-revert to only abort",
            )
        rel = ReleaseApp(conn, name, out, rollout_name=rollout).load()
        ro = rel.rollout()
        if ro is None:
            raise UsageError(
                f"application {name}: its Rollout does not exist yet: nothing to abort"
            )
        new = pick_image(ro.images, None) or ""
        stable = rel.stable_image(ro, like=new) or ""
    if dry_run:
        return _plan_abort(conn, name, rel, via, rollout, namespace, new, stable, out)
    done = rollout_action(
        conn, name, Action.abort, via=via, rollout=rollout, namespace=namespace, out=out
    )
    assert isinstance(done, Acted)
    acted = done.action
    result = GitResult(name, "abort", "aborted", acted.changed, new, stable, message=acted.message)
    if rel is not None and stable and not runs_tag((new,), stable):
        deadline = time.monotonic() + conn.timeout
        message = revert_subject(name, _label(stable), f"abort of {_label(new)}")
        result.commit, outcome = rel.restore(stable, message=message, deadline=deadline)
        result.changed = True
        result.argocd_revision = outcome.app.revision
        result.outcome = "reverted"
        result.message = f"{acted.message}\n{name}: Git and Argo CD back on {stable}, Healthy"
    elif revert and not stable:
        out.warn(f"{name}: no stable ReplicaSet image known: Git is left as it is")
    _record(record, "abort", result)
    return Aborted(done, result)


def _plan_abort(
    conn: Connection,
    name: str,
    rel: ReleaseApp | None,
    via: Via,
    rollout: str | None,
    namespace: str | None,
    new: str,
    stable: str,
    out: Output,
) -> Plan:
    """``abort --dry-run``: the action (or why it would do nothing), then the Git revert."""
    plan = Plan(f"abort {name}", name)
    rollout_action(
        conn, name, Action.abort, via=via, rollout=rollout, namespace=namespace, out=out, plan=plan
    )
    if rel is not None and stable and not runs_tag((new,), stable):
        message = revert_subject(name, _label(stable), f"abort of {_label(new)}")
        bump = rel.write_image(stable, skip_ci=True, message=message, dry_run=True)
        if plan.git(bump, why="write the stable image back ([skip ci])"):
            plan.changed = True
            plan.take(name, auto_sync=rel.app.auto_sync, revision="<the revert commit>")
        plan.wait(name, "released", stable)
    return plan


def release_images(rel: ReleaseApp) -> list[Released]:
    """(Release-Image, Release-Previous, is a revert) of the app's commits, newest first."""
    from gitops_release.git.repo import open_history
    from gitops_release.git.trailers import releases

    repo, path, branch = rel.source
    with open_history(
        repo, app_path=path, branch=branch, settings=rel.conn.settings, depth=DEPTH
    ) as run:
        return releases(run, path, DEPTH)


def previous_image(entries: Sequence[tuple[str, str, bool] | Released], current: str) -> str | None:
    """The newest image other than ``current`` that no revert moved away from."""
    failed = {e[1] for e in entries if e[2] and e[1]}
    for image, prev in ((e[0], e[1]) for e in entries):
        for candidate in (image, prev):
            if candidate and candidate not in failed and not runs_tag((candidate,), current):
                return candidate
    return None


def ran_images(entries: Sequence[Released], current: str) -> list[str]:
    """Every image the app's release commits name (Release-Image and Release-Previous), newest
    first, once each, ``current`` first when known: the versions this app has run."""
    seen: list[str] = [current] if current else []
    for entry in entries:
        for candidate in (entry.image, entry.previous):
            if candidate and candidate not in seen:
                seen.append(candidate)
    return seen


def check_target(name: str, to: str, current: str, entries: Sequence[Released]) -> str | None:
    """``--to``: the image this app ran with that tag (or that reference), or None when the app
    is on it already. Anything it never ran is refused: going forward is ``deploy``'s job."""
    if current and runs_tag((current,), to):
        return None
    ran = ran_images(entries, current)
    for image in ran:
        if runs_tag((image,), to):
            return image
    back = [short(i) for i in ran if not (current and runs_tag((current,), i))]
    raise UsageError(
        f"{name} has never run {to} (by its release commits): rollback goes back to a version "
        f"it has run: {', '.join(back) if back else 'none found'}",
        hint=f"pick one of those with --to, or move forward with `gitops-release deploy {to} --app {name}`",
    )


class TagMoved(UsageError):
    """The tag to roll back to points at other content than when it was released (exit 2)."""


def recorded_digest(entries: Sequence[Released], ref: ImageRef) -> str:
    """The ``Release-Digest`` of the newest release of ``ref``'s name and tag ("" if none)."""
    for entry in entries:
        if not entry.digest:
            continue
        try:
            image = parse_image(entry.image, what="Release-Image")
        except UsageError:
            continue
        if image.name == ref.name and image.tag == ref.tag:
            return entry.digest
    return ""


def retag_guard(
    rel: ReleaseApp,
    ref: ImageRef,
    entries: Sequence[Released],
    *,
    pin_digest: bool,
    allow_retagged: bool,
) -> str | None:
    """The digest to pin the rollback to (``--pin-digest`` and one was recorded), else None.

    Without ``--pin-digest`` a tag whose registry digest differs from the recorded one is
    refused (exit 2) unless ``--allow-retagged``: rolling back to "v1" should bring back what
    ran as v1, not whatever was pushed under that name since."""
    if ref.digest:
        return None  # a digest names the content itself
    recorded = recorded_digest(entries, ref)
    if pin_digest and recorded:
        return recorded
    if not recorded or allow_retagged or rel.images.mode == "off":
        return None
    try:
        now = rel.images.digest(ref)
    except ReleaseError as err:
        if rel.images.mode != "warn":
            raise
        rel.out.warn(f"{err} [--verify-image warn: going on]")
        return None
    if now != recorded:
        tag = ref.tag or "latest"
        raise TagMoved(
            f"{tag} was re-pushed since it was deployed: {ref} is {now[:19]} in the registry, "
            f"the release commit recorded {recorded[:19]}",
            hint="roll back to what ran then with --pin-digest, or to the new content with "
            "--allow-retagged",
        )
    return None


def _target_ref(target: str, current: str | None) -> ImageRef | None:
    if is_reference(target):
        return parse_image(target, what="--to")
    if current:
        return resolve_target(parse_image(current, what="image"), target)
    return None


def rollback(
    conn: Connection,
    name: str,
    *,
    to: str | None = None,
    promote: bool = False,
    via_history: bool = False,
    rollout: str | None = None,
    pin_digest: bool = False,
    allow_retagged: bool = False,
    record: Path | None = None,
    out: Output,
    dry_run: bool = False,
) -> GitResult | Plan:
    rel = ReleaseApp(conn, name, out, rollout_name=rollout).load()
    ro = rel.rollout()
    current = pick_image(ro.images, None) if ro is not None else None
    deadline = time.monotonic() + conn.timeout
    plan = Plan(f"rollback {name}" + (f" --to {to}" if to else ""), name) if dry_run else None
    if via_history:
        done = _via_history(rel, to, current or "", deadline, plan)
        if done is None:
            assert plan is not None
            return _plan_promote(plan, rel, promote)
        result = done
    else:
        if to is not None:
            rel.check_image(to, current)  # the registry has it? (before the history is read)
        entries = release_images(rel)
        current = current or (entries[0][0] if entries else None)
        if to is not None:
            target = check_target(name, to, current or "", entries)
            if target is None:
                return _already(name, current or to, plan, record)
        else:
            target = previous_image(entries, current or "")
            if target is None:
                raise UsageError(
                    f"no earlier release of {name} found in the Git history of {rel.source[1]}",
                    hint="name the image: --to TAG",
                )
        ref = _target_ref(target, current)
        pinned = None
        if ref is not None:
            pinned = retag_guard(
                rel, ref, entries, pin_digest=pin_digest, allow_retagged=allow_retagged
            )
        out.progress(f"rollback {name}: {_label(current or '')} -> {_label(target)} through Git")
        landed = rel.write_image(
            target,
            skip_ci=True,
            message=rollback_subject(name, _label(current or ""), _label(target)),
            digest=pinned,
            pin_digest=pin_digest,
            dry_run=plan is not None,
        )
        if plan is not None:
            if plan.git(landed, why="the rollback commit ([skip ci])"):
                plan.take(name, auto_sync=rel.app.auto_sync, revision="<the rollback commit>")
            plan.wait(name, Target.preview_ready, landed.new)
            return _plan_promote(plan, rel, promote, landed.new)
        result = GitResult(
            name, "rollback", "preview-ready", landed.changed, current or "", landed.new
        )
        result.commit = landed.commit or ""
        rel.take(landed.commit, deadline)
        outcome = rel.reach(
            Target.preview_ready, commit=landed.commit, image=landed.new, deadline=deadline
        )
        result.argocd_revision = outcome.app.revision
        if outcome.rollout is not None and outcome.rollout.fully_promoted:
            result.outcome = "released"
    if promote and result.outcome != "released":
        rel.act(Action.promote)
        if via_history:
            _poll_rollout(rel, result.to_image, deadline, released=True)
        else:
            commit = result.commit or None
            rel.reach(Target.released, commit=commit, image=result.to_image, deadline=deadline)
        result.outcome = "released"
    result.message = f"{name}: rolled back to {result.to_image} ({result.outcome})" + (
        "" if result.outcome == "released" else f"; promote with `gitops-release promote {name}`"
    )
    _record(record, "rollback", result)
    return result


def _already(
    name: str, image: str, plan: Plan | None, record: Path | None = None
) -> GitResult | Plan:
    """``--to`` the version the app is on: nothing to do, and said so."""
    message = f"{name}: already on {_label(image)}; nothing to roll back"
    if plan is not None:
        plan.nothing(message)
        return plan
    result = GitResult(name, "rollback", "unchanged", False, image, image, message=message)
    _record(record, "rollback", result)
    return result


def _plan_promote(plan: Plan, rel: ReleaseApp, promote: bool, image: str | None = None) -> Plan:
    if promote:
        plan.action(rel.name, rel.ref if rel.has_rollout() else None, Action.promote)
        plan.wait(rel.name, Target.released, image)
    return plan


def _via_history(
    rel: ReleaseApp, to: str | None, current: str, deadline: float, plan: Plan | None = None
) -> GitResult | None:
    """Argo CD's history rollback: only without auto-sync, and Git keeps the newer image."""
    from gitops_release.views.history import history_rows

    api = rel.conn.argocd()
    if rel.app.auto_sync:
        raise UsageError(
            f"application {rel.name} has auto-sync on: Argo CD refuses a history rollback (and it would leave Git stale)",
            hint="roll back through Git instead: drop --via argocd-history",
        )
    rows = history_rows(api, rel.name, settings=rel.conn.settings, out=rel.out)
    candidates = [r for r in rows if r.revision and r.revision != rel.app.revision]
    if to is not None:
        candidates = [r for r in candidates if r.image and runs_tag((r.image,), to)]
    if not candidates:
        raise UsageError(
            f"no earlier deployment of {rel.name}{' on ' + to if to else ''} in Argo CD's history",
            hint=f"see `gitops-release history {rel.name}`",
        )
    row = candidates[0]
    if plan is not None:  # the dry run stops here: the rollback call is the first change
        plan.add(
            f"roll {rel.name} back to Argo CD history id {row.id} ({short_sha(row.revision)}, {row.image or 'image unknown'})",
            call=f"POST /api/v1/applications/{rel.name}/rollback {json.dumps({'id': row.id})}",
            why="Git keeps the newer image",
        )
        plan.wait(rel.name, Target.preview_ready, row.image or None)
        return None
    rel.out.progress(
        f"rolling back {rel.name} to history id {row.id} ({short_sha(row.revision)}) with Argo CD; "
        "Git still holds the newer image and auto-sync stays off until Git is changed"
    )
    api.rollback(rel.name, row.id)
    ro = _poll_rollout(rel, row.image, deadline, released=False)
    to_image = row.image or pick_image(ro.images, None) or ""
    result = GitResult(rel.name, "rollback", "preview-ready", True, current, to_image)
    result.argocd_revision = row.revision
    if ro.fully_promoted:
        result.outcome = "released"
    return result


def _poll_rollout(rel: ReleaseApp, image: str, deadline: float, *, released: bool) -> Rollout:
    """After a history rollback the app stays OutOfSync with its branch, so the revision-pinned
    wait does not apply: follow the live Rollout itself (bounded)."""
    from gitops_release.errors import Failed, TimedOut

    state = "not read yet"
    while time.monotonic() < deadline:
        app = rel.conn.argocd().get_app(rel.name)
        if app.operation is not None and app.operation.phase in ("Failed", "Error"):
            raise Failed(
                f"{rel.name}: rollback operation {app.operation.phase}: {app.operation.message}"
            )
        ro = rel.rollout()
        if ro is not None:
            state = f"rollout {ro.phase or 'Progressing'}: {ro.message or '-'} on {', '.join(ro.images)}"
            on_image = not image or runs_tag(ro.images, image)
            if ro.phase == "Degraded":
                raise Failed(f"{rel.name}: {state}", hint=f"see `gitops-release status {rel.name}`")
            if on_image and ro.fully_promoted and ro.phase == "Healthy":
                return ro
            if on_image and not released and "BlueGreenPause" in ro.pause_reasons:
                return ro
        rel.conn.sleep(0.5)
    raise TimedOut(
        f"timed out waiting for {rel.name} to roll back: {state}", hint="raise --timeout"
    )


def _record(path: Path | None, kind: str, result: GitResult) -> None:
    if path is not None:
        from gitops_release.record import write_record

        write_record(path, kind, result.payload())


def _label(image: str) -> str:
    return short(image) or "?"
