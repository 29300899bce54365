"""The waves of a release set (``--wave``), and what ``deploy --set --dry-run`` shows."""

from __future__ import annotations

from gitops_release.argo.types import Action, Target
from gitops_release.errors import UsageError
from gitops_release.release.app import ReleaseApp
from gitops_release.release.deploy import DeployRequest
from gitops_release.release.plan import Plan
from gitops_release.release.releaseset import Member, SetResult

WAVE_HINT = "--wave lists apps of the set, comma-separated: --wave api --wave worker,web"


def arrange(members: list[Member], waves: list[str]) -> list[list[str]]:
    """The waves in order (exit 2 for an app outside the set or in two waves); apps of the set
    that no ``--wave`` names make a last wave of their own. Without ``--wave``: one wave."""
    names = [m.app for m in members]
    found: list[list[str]] = []
    placed: dict[str, int] = {}
    for number, value in enumerate(waves, 1):
        wave = [a.strip() for a in value.split(",") if a.strip()]
        if not wave:
            raise UsageError(f"--wave {value!r}: names no app", hint=WAVE_HINT)
        for app in wave:
            if app not in names:
                raise UsageError(
                    f"--wave {value}: {app} is not in the set ({', '.join(names)})",
                    hint="add it with --set APP=TAG, or drop it from --wave",
                )
            if app in placed:
                raise UsageError(
                    f"--wave {value}: {app} is in wave {placed[app]} already", hint=WAVE_HINT
                )
            placed[app] = number
        found.append(wave)
    rest = [a for a in names if a not in placed]
    if rest:
        found.append(rest)
    return found


def plan_set(
    plan: Plan,
    req: DeployRequest,
    rels: dict[str, ReleaseApp],
    order: list[list[str]],
    bump: SetResult,
    members: list[Member],
) -> None:
    if not bump.changed:
        plan.notes.append("Git already holds every image of the set: no commit")
    else:
        plan.diff += "".join(a.diff for a in bump.apps)
        moved = ", ".join(f"{a.app} {a.old or '?'} -> {a.new}" for a in bump.apps if a.changed)
        plan.add(
            f"commit ONE change for the set ({moved}) and push to {bump.branch} of {bump.repo}",
            why="step 1: the release commit, a trailer group per app",
        )
    images = {m.app: a.new for m, a in zip(members, bump.apps, strict=True)}
    for number, wave in enumerate(order, 1):
        last = number == len(order)
        plan.add(f"wave {number}: {', '.join(wave)}")
        for app in wave:
            plan.take(app, auto_sync=rels[app].app.auto_sync, revision="<the release commit>")
        for app in wave:
            plan.wait(app, Target.preview_ready, images[app])
        for check in req.checks:
            plan.add(f"smoke-check {check} of each app of wave {number}")
        if req.promote:
            for app in wave:
                plan.action(app, rels[app].ref if rels[app].has_rollout() else None, Action.promote)
        if req.promote or not last:
            for app in wave:
                plan.wait(app, Target.released, images[app])
    plan.notes.append(
        "on a failure anywhere: abort every app still on its way, ONE revert commit for the set"
    )
