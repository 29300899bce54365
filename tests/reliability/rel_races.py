"""Races: concurrent writers on one remote (issue 7, part 1)."""

from __future__ import annotations

import json
from pathlib import Path

from rel_common import (
    EVIDENCE,
    GIT_CANARY,
    ROLLOUT,
    SERVICE,
    Check,
    expected_rollout,
    finish,
    git,
    linear,
    remote_file,
    seed_repo,
    spawn,
)

from gitops_release.sandbox.gitserver import GitServer

N = 16


def _server(work: Path) -> GitServer:
    srv = GitServer(work / "srv", GIT_CANARY, lifetime=300)
    srv.start()
    return srv


def sixteen_apps(work: Path, n: int = N) -> list[Check]:
    """``n`` processes bump ``n`` different apps of one HTTP remote at once: all land, the
    history stays linear, every file is byte-exact except its tag."""
    srv = _server(work)
    try:
        apps = [f"app{i:02d}" for i in range(n)]
        url = seed_repo(srv.url("team/gitops.git"), work / "seed", apps, GIT_CANARY) and srv.url(
            "team/gitops.git"
        )
        bare = srv.root / "team/gitops.git"
        env = {"GITOPS_RELEASE_GIT_TOKEN": GIT_CANARY}
        procs = [
            spawn(["bump-image", "v2", "--repo", url, "--app", f"apps/{a}", "-o", "json"], env)
            for a in apps
        ]
        results = [finish(p, f"races/apps/{a}") for p, a in zip(procs, apps, strict=True)]
        EVIDENCE.git("races/apps remote", bare)
        history = len(_lines(bare))
        checks = []
        for app, res in zip(apps, results, strict=True):
            landed = remote_file(bare, f"apps/{app}/rollout.yaml") == expected_rollout(app, "v2")
            service = (
                remote_file(bare, f"apps/{app}/service.yaml") == SERVICE.format(name=app).encode()
            )
            commit = json.loads(res.out)["commit"] if res.code == 0 else ""
            held = res.code == 0 and landed and service and commit in _lines(bare)
            checks.append(
                Check(
                    "races",
                    f"16 apps: {app}",
                    held and linear(bare),
                    int(not landed),
                    f"exit {res.code}: {res.err.strip()[-200:]}",
                )
            )
        if history != n + 1:
            checks.append(Check("races", "16 apps: history", False, 0, f"{history} commits"))
        return checks
    finally:
        srv.stop()


def _lines(bare: Path) -> list[str]:
    return git(bare, "rev-list", "main").splitlines()


def sixteen_compare_and_swap(work: Path, n: int = N) -> list[Check]:
    """``n`` processes bump one app with ``--expect-current v1`` and different tags: exactly one
    lands (exit 0), the others exit 5, the file holds the winner's tag and nothing else."""
    srv = _server(work)
    try:
        url = srv.url("team/gitops.git")
        seed_repo(url, work / "seed", ["web"], GIT_CANARY)
        bare = srv.root / "team/gitops.git"
        env = {"GITOPS_RELEASE_GIT_TOKEN": GIT_CANARY}
        tags = [f"v{i + 2}" for i in range(n)]
        procs = [
            spawn(
                ["bump-image", tag, "--repo", url, "--app", "apps/web", "--expect-current", "v1"],
                env,
            )
            for tag in tags
        ]
        results = [finish(p, f"races/cas/{t}") for p, t in zip(procs, tags, strict=True)]
        EVIDENCE.git("races/cas remote", bare)
        winners = [t for t, r in zip(tags, results, strict=True) if r.code == 0]
        text = remote_file(bare, "apps/web/rollout.yaml")
        intact = len(winners) == 1 and text == expected_rollout("web", winners[0])
        commits = len(_lines(bare))
        checks = []
        for tag, res in zip(tags, results, strict=True):
            if res.code == 0:
                held = intact and commits == 2
            else:
                held = res.code == 5 and "--expect-current v1, but" in res.err
            checks.append(
                Check(
                    "races",
                    f"compare-and-swap {tag}",
                    held,
                    0 if intact else 1,
                    f"exit {res.code}: {res.err.strip()[-200:]}",
                )
            )
        return checks
    finally:
        srv.stop()


def two_deploys(work: Path) -> list[Check]:
    """Two ``deploy`` runs of one app at once (v2 and v3): one releases, the other refuses
    clearly (exit 5) or waits; never two rollouts fighting (no revert of the other's tag)."""
    from rel_sandbox import SandboxApp

    with SandboxApp(work) as sa:
        procs = [
            spawn(["deploy", tag, "--app", "myapp", "--timeout", "60s", "-o", "json"], sa.env)
            for tag in ("v2", "v3")
        ]
        results = [finish(p, f"races/deploy/{i}") for i, p in enumerate(procs)]
        codes = sorted(r.code for r in results)
        tip = sa.remote_image()
        live = sa.live_images()
        winner = next((json.loads(r.out) for r in results if r.code == 0), None)
        refused = [r for r in results if r.code == 5]
        held = (
            codes == [0, 5]
            and winner is not None
            and tip == winner["new_image"]
            and ("is in progress" in refused[0].err or "landed in Git meanwhile" in refused[0].err)
            and winner["new_image"] in live
            and "revert(" not in git(sa.bare, "log", "--format=%s", "main")
            and sa.remote_commits() == 2
        )
        detail = " | ".join(f"exit {r.code}: {r.err.strip().splitlines()[-1:]}" for r in results)
        return [Check("races", "two deploys of one app", held, 0 if tip else 1,
                      f"{detail}; git tip {tip}")]  # fmt: skip


ROLLOUT_TEXT = ROLLOUT  # re-exported for the bad-input table
