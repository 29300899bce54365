"""Faults on the Argo CD side, through the sandbox's fault controls and a resetting proxy:
5xx bursts, latency beyond the client timeout, connection resets, the watch stream cut
mid-wait, "another operation is already in progress", and ``deploy`` killed between its push
and the sync (issue 7, part 2).

Each scenario: the named end state, the remote holds the whole change or none, and re-running
the same ``deploy`` finishes the job (preview-ready on v2, the change in Git exactly once).
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from rel_common import Check, Result, finish, git, spawn
from rel_faults_git import scan_cmdlines
from rel_sandbox import SandboxApp

V1, V2 = "ikubernetes/myapp:v1", "ikubernetes/myapp:v2"
DEPLOY = ["deploy", "v2", "--app", "myapp", "--timeout", "60s", "-o", "json"]


def _end(name: str, sa: SandboxApp, first: Result, codes: tuple[int, ...], label: str) -> Check:
    """The first run ended in one of ``codes`` with the whole change or none in Git; a re-run
    (faults cleared) finishes: preview-ready on v2, one release commit."""
    whole = sa.remote_image() in (V1, V2)
    named = first.code in codes and (first.code == 0 or "gitops-release: error:" in first.err)
    sa.sb.reset()
    rerun = sa.cli(*DEPLOY, label=f"{label} rerun")
    subjects = git(sa.bare, "log", "--format=%s", "main").splitlines()
    once = sum(s.startswith("release(myapp)") for s in subjects) == 1
    done = rerun.code == 0 and '"preview-ready"' in rerun.out and sa.remote_image() == V2 and once
    detail = f"exit {first.code}: {first.err.strip().splitlines()[-1:]}; rerun exit {rerun.code}"
    if rerun.code:
        detail += f" {rerun.err.strip().splitlines()[-1:]}"
    return Check("faults", name, named and whole and done, int(not whole or not done), detail)


def argocd_5xx_burst(work: Path) -> list[Check]:
    with SandboxApp(work) as sa:
        sa.sb.inject("http-error", status=503, count=2, path="/api/v1/applications")
        first = sa.cli(*DEPLOY, label="faults/5xx burst")
        return [_end("Argo CD 5xx burst (within retries)", sa, first, (0,), "faults/5xx burst")]


def argocd_5xx_outage(work: Path) -> list[Check]:
    with SandboxApp(work) as sa:
        sa.sb.inject("http-error", status=502, count=-1, path="/api/v1/applications")
        first = sa.cli(*DEPLOY, label="faults/5xx outage")
        ok = sa.remote_image() == V1  # refused before the Git write
        check = _end("Argo CD 502 outage", sa, first, (4,), "faults/5xx outage")
        check.held = check.held and ok
        return [check]


def argocd_5xx_on_the_watch(work: Path) -> list[Check]:
    """The burst hits the wait itself (the watch stream), after the push."""
    with SandboxApp(work) as sa:
        sa.sb.inject("http-error", status=503, count=4, path="/api/v1/stream")
        first = sa.cli(*DEPLOY, label="faults/5xx on the watch")
        return [_end("Argo CD 5xx on the watch stream", sa, first, (0,), "faults/5xx watch")]


def deploy_push_rejected(work: Path) -> list[Check]:
    """Other writers land commits on the branch during deploy's push (3 lost races): the
    compare-and-swap on the app's image still lets deploy re-anchor and land."""
    with SandboxApp(work) as sa:
        sa.sb.git_server.race_next_pushes(3)
        first = sa.cli(*DEPLOY, label="faults/deploy rejected x3")
        ok = first.err.count("re-applying the edit") == 3
        check = _end("deploy: push rejected 3 times", sa, first, (0,), "faults/deploy rejected")
        check.held = check.held and ok
        return [check]


def deploy_git_gone_mid_push(work: Path) -> list[Check]:
    with SandboxApp(work) as sa:
        sa.sb.git_server.drop_next_pushes(1)
        first = sa.cli(*DEPLOY, label="faults/deploy drop")
        return [_end("deploy: git server hangs up mid-push", sa, first, (5,), "faults/deploy drop")]


@contextlib.contextmanager
def short_client_timeouts(seconds: float) -> Iterator[None]:
    """The HTTP client's read timeout (30 s) and the refresh timeout (60 s) cut down, so that
    "latency beyond the client timeout" costs a second, not minutes (in-process runs only)."""
    from gitops_release.argo import client as argocd
    from gitops_release.argo import http

    short = dataclasses.make_dataclass(
        "ShortClient", [("read_timeout", float, dataclasses.field(default=seconds))],
        bases=(http.Client,),
    )  # fmt: skip
    saved = http.Client, argocd.REFRESH_TIMEOUT
    http.Client, argocd.REFRESH_TIMEOUT = short, seconds  # type: ignore[misc]
    try:
        yield
    finally:
        http.Client, argocd.REFRESH_TIMEOUT = saved  # type: ignore[misc]


def latency_beyond_timeout(work: Path) -> list[Check]:
    with SandboxApp(work) as sa, short_client_timeouts(0.4):
        sa.sb.inject("latency", seconds=1.0, count=3, path="/api/v1/applications/myapp")
        first = sa.cli(*DEPLOY, label="faults/latency")
        return [_end("latency beyond the client timeout", sa, first, (0, 4), "faults/latency")]


class ResetProxy:
    """A TCP proxy on 127.0.0.1 that resets the first ``resets`` connections (RST, no answer)
    and relays the others to ``target``."""

    def __init__(self, target: str, resets: int) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.resets = resets
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ResetProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            if self.resets > 0:
                self.resets -= 1
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(1024)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                conn.close()
                continue
            upstream = socket.create_connection(self.target, timeout=30)
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def connection_resets(work: Path) -> list[Check]:
    with SandboxApp(work) as sa, ResetProxy(sa.sb.argocd_url, resets=2) as proxy:
        sa.env["ARGOCD_SERVER"] = proxy.url
        first = sa.cli(*DEPLOY, label="faults/resets")
        return [_end("connection resets", sa, first, (0, 4), "faults/resets")]


def watch_stream_cut(work: Path) -> list[Check]:
    with SandboxApp(work) as sa:
        sa.sb.inject("drop-stream", count=3, after=1)
        first = sa.cli(*DEPLOY, label="faults/stream cut")
        return [_end("watch stream cut mid-wait", sa, first, (0,), "faults/stream cut")]


def operation_in_progress(work: Path) -> list[Check]:
    with SandboxApp(work, auto_sync=False) as sa:
        sa.sb.hold_operation("myapp", 60)  # 0.6 s at the sandbox's time scale
        first = sa.cli(*DEPLOY, label="faults/operation in progress")
        return [_end("another operation is already in progress", sa, first, (0,), "faults/op")]


def killed_between_push_and_sync(work: Path, sig: signal.Signals) -> list[Check]:
    """``deploy`` on a manual-sync app, its sync call held by latency; the signal arrives once
    its commit is on the remote."""
    with SandboxApp(work, auto_sync=False) as sa:
        sa.sb.inject("latency", seconds=1.5, count=1, path="/api/v1/applications/myapp/sync")
        before = git(sa.bare, "rev-parse", "main")
        proc = spawn(DEPLOY, sa.env)
        deadline = time.monotonic() + 60
        while git(sa.bare, "rev-parse", "main") == before and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            scan_cmdlines(f"deploy {sig.name}")
        time.sleep(0.3)  # refresh answered, the sync request in flight
        proc.send_signal(sig)
        killed = time.monotonic()
        first = finish(proc, f"faults/deploy {sig.name}")
        expected = 130 if sig == signal.SIGTERM else -signal.SIGKILL
        if first.code == expected:
            first = Result(0, first.out, first.err)  # the named state for a killed process
        name = f"deploy {sig.name} between push and sync"
        check = _end(name, sa, first, (0,), f"faults/deploy {sig.name}")
        time.sleep(max(0.0, killed + 2.0 - time.monotonic()))  # the held sync request ends
        return [check]


def sigterm_push_sync(work: Path) -> list[Check]:
    return killed_between_push_and_sync(work, signal.SIGTERM)


def sigkill_push_sync(work: Path) -> list[Check]:
    return killed_between_push_and_sync(work, signal.SIGKILL)


SCENARIOS = [
    argocd_5xx_burst,
    argocd_5xx_outage,
    argocd_5xx_on_the_watch,
    deploy_push_rejected,
    deploy_git_gone_mid_push,
    latency_beyond_timeout,
    connection_resets,
    watch_stream_cut,
    operation_in_progress,
    sigterm_push_sync,
    sigkill_push_sync,
]
