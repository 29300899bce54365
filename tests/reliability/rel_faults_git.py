"""Faults on the Git side: rejected pushes, the server failing or gone mid-push, and the process
killed between its commit and the end of its push (issue 7, part 2).

Every scenario checks three things: the named end state (exit code per DESIGN.md), that the
remote holds the whole change or none of it, and that re-running the same command finishes the
job (the change landed exactly once).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from rel_common import (
    EVIDENCE,
    GIT_CANARY,
    ROLLOUT,
    Check,
    expected_rollout,
    finish,
    git,
    git_env,
    linear,
    remote_file,
    run_main,
    seed_repo,
    spawn,
)

from gitops_release.sandbox.gitserver import GitServer

ENV = {"GITOPS_RELEASE_GIT_TOKEN": GIT_CANARY}


class GitScene:
    """A git server holding ``team/gitops.git`` with app ``web`` on v1."""

    def __init__(self, work: Path, port: int = 0) -> None:
        self.work = work
        self.srv = GitServer(work / "srv", GIT_CANARY, lifetime=300, port=port)
        self.srv.start()
        self.url = self.srv.url("team/gitops.git")
        self.bare = self.srv.root / "team/gitops.git"

    def seed(self) -> GitScene:
        seed_repo(self.url, self.work / "seed", ["web"], GIT_CANARY)
        EVIDENCE.git(f"git remote {self.work.name}", self.bare)
        return self

    def bump(self, label: str, *extra: str, cwd: Path | None = None) -> tuple[int, str]:
        repo = ["--repo", self.url] if cwd is None else []
        res = run_main(["bump-image", "v2", *repo, "--app", "apps/web", *extra], label, ENV, cwd)
        return res.code, res.err

    def remote(self) -> bytes:
        return remote_file(self.bare, "apps/web/rollout.yaml")

    def whole_or_none(self) -> bool:
        return self.remote() in (ROLLOUT.format(name="web").encode(), expected_rollout("web", "v2"))

    def landed_once(self) -> bool:
        subjects = git(self.bare, "log", "--format=%s", "main").splitlines()
        releases = [s for s in subjects if s.startswith("release(web)")]
        return self.remote() == expected_rollout("web", "v2") and len(releases) == 1

    def stop(self) -> None:
        self.srv.stop()


def _check(
    name: str, scene: GitScene, state_ok: bool, rerun: tuple[int, str], detail: str
) -> Check:
    whole = scene.whole_or_none()
    done = rerun[0] == 0 and scene.landed_once() and linear(scene.bare)
    return Check(
        "faults", name, state_ok and whole and done, int(not whole or not done),
        f"{detail}; rerun exit {rerun[0]} {rerun[1].strip()[-160:]}",
    )  # fmt: skip


def push_rejected_n_times(work: Path) -> list[Check]:
    scene = GitScene(work).seed()
    try:
        scene.srv.race_next_pushes(3)
        code, err = scene.bump("faults/rejected x3")
        ok = code == 0 and err.count("re-applying the edit") == 3
        others = git(scene.bare, "log", "--format=%s", "main").count("another writer")
        return [_check("push rejected 3 times", scene, ok and others == 3, (code, err),
                       f"exit {code}")]  # fmt: skip
    finally:
        scene.stop()


def push_rejected_always(work: Path) -> list[Check]:
    scene = GitScene(work).seed()
    try:
        scene.srv.race_next_pushes(10)
        code, err = scene.bump("faults/rejected x10")
        first = scene.remote() == ROLLOUT.format(name="web").encode()
        rerun = scene.bump("faults/rejected rerun")
        ok = code == 5 and "still rejected after 10 attempt" in err and first
        return [_check("push rejected 10 times", scene, ok, rerun, f"exit {code} {err[-160:]}")]
    finally:
        scene.stop()


def remote_gone_mid_push(work: Path) -> list[Check]:
    scene = GitScene(work).seed()
    try:
        scene.srv.drop_next_pushes(1)
        code, _err = scene.bump("faults/drop mid-push")
        rerun = scene.bump("faults/drop rerun")
        return [_check("git server hangs up mid-push", scene, code == 5, rerun, f"exit {code}")]
    finally:
        scene.stop()


def push_answered_503(work: Path) -> list[Check]:
    scene = GitScene(work).seed()
    try:
        scene.srv.fail_next(1, 503, pushes_only=True)
        code, _err = scene.bump("faults/push 503")
        ok = code in (4, 5) and scene.remote() == ROLLOUT.format(name="web").encode()
        rerun = scene.bump("faults/push 503 rerun")
        return [_check("git server answers 503 to the push", scene, ok, rerun, f"exit {code}")]
    finally:
        scene.stop()


def git_server_down(work: Path) -> list[Check]:
    scene = GitScene(work).seed()
    port = int(scene.url.split(":")[2].split("/")[0])
    checkout = work / "checkout"
    git(work, "clone", "-q", scene.url, str(checkout), env=git_env(GIT_CANARY))
    EVIDENCE.git("faults/server down checkout", checkout)
    scene.stop()
    code, err = scene.bump("faults/server down", cwd=checkout)
    clean = (
        git(checkout, "status", "--porcelain") == ""
        and git(checkout, "rev-list", "origin/main..HEAD") == ""
    )
    scene = GitScene(work, port=port)
    try:
        rerun = scene.bump("faults/server back", cwd=checkout)
        ok = code == 4 and "git server" not in err and clean
        return [_check("git server down", scene, ok, rerun, f"exit {code} {err[-160:]}")]
    finally:
        scene.stop()


HOOK = """#!/bin/sh
touch {started}
sleep {seconds}
touch {ended}
"""


def killed_mid_push(work: Path, sig: signal.Signals, local: bool) -> list[Check]:
    """Stop the process after its commit, while its push is held by a slow pre-receive hook on
    the server; meanwhile, watch every /proc/*/cmdline for the token."""
    scene = GitScene(work).seed()
    name = f"{sig.name} {'local checkout' if local else 'URL clone'} between commit and push"
    try:
        started, ended = work / "hook-started", work / "hook-ended"
        hook = scene.bare / "hooks" / "pre-receive"
        hook.write_text(HOOK.format(started=started, ended=ended, seconds=1.5))
        hook.chmod(0o755)
        checkout = work / "checkout"
        if local:
            git(work, "clone", "-q", scene.url, str(checkout), env=git_env(GIT_CANARY))
            EVIDENCE.git(f"faults/{name} checkout", checkout)
        repo = [] if local else ["--repo", scene.url]
        tmpdir = work / "tmp"  # where the temporary clone goes
        tmpdir.mkdir()
        proc = spawn(
            ["bump-image", "v2", *repo, "--app", "apps/web"],
            {**ENV, "TMPDIR": str(tmpdir)},
            checkout if local else None,
        )
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
            scan_cmdlines(name)
            time.sleep(0.01)
        for _ in range(20):
            scan_cmdlines(name)
        proc.send_signal(sig)
        res = finish(proc, f"faults/{name}")
        while not ended.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        hook.unlink()
        expected = 130 if sig == signal.SIGTERM else -signal.SIGKILL
        ok = res.code == expected and started.exists()
        detail = f"exit {res.code} {res.err.strip()[-160:]}"
        left = list(tmpdir.glob("gitops-release-*"))
        if sig == signal.SIGTERM:  # unwound: the temporary clone is removed
            ok = ok and not left
        detail += f"; temporary clones left: {len(left)}"
        if local:
            # the checkout is left as found (or holding the landed change), never ahead of it
            tip = git(scene.bare, "rev-parse", "main")
            git(checkout, "fetch", "-q", "origin", env=git_env(GIT_CANARY))
            ahead = git(checkout, "rev-list", f"{tip}..HEAD")
            dirty = git(checkout, "status", "--porcelain", "--untracked-files=no")
            state = f"ahead by {len(ahead.splitlines())}, dirty {dirty!r}"
            ok = ok and not dirty and (not ahead or sig == signal.SIGKILL)
            detail += f"; checkout {state}"
            rerun = scene.bump(f"faults/{name} rerun", cwd=checkout)
        else:
            rerun = scene.bump(f"faults/{name} rerun")
        return [_check(name, scene, ok, rerun, detail)]
    finally:
        scene.stop()


def scan_cmdlines(label: str) -> None:
    """Every process's argument list, searched for the registered secrets."""
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                argv = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        EVIDENCE.cmdline_samples += 1
        if "git" in argv and any(s in argv for s in EVIDENCE.secrets):
            EVIDENCE.cmdline_leaks.append(f"{label}: {argv[:200]}")


def sigterm_url(work: Path) -> list[Check]:
    return killed_mid_push(work, signal.SIGTERM, local=False)


def sigkill_url(work: Path) -> list[Check]:
    return killed_mid_push(work, signal.SIGKILL, local=False)


def sigterm_local(work: Path) -> list[Check]:
    return killed_mid_push(work, signal.SIGTERM, local=True)


def sigkill_local(work: Path) -> list[Check]:
    return killed_mid_push(work, signal.SIGKILL, local=True)


SCENARIOS = [
    push_rejected_n_times,
    push_rejected_always,
    remote_gone_mid_push,
    push_answered_503,
    git_server_down,
    sigterm_url,
    sigkill_url,
    sigterm_local,
    sigkill_local,
]
