"""``status --watch`` follows Argo CD's watch streams: every change shows, few requests are made."""

from __future__ import annotations

import _thread
import io
import json
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitops_release.cli import main
from gitops_release.sandbox.server import Sandbox, SandboxConfig
from tests.conftest import Env, make_env

TREE_STREAM = ("GET", "/api/v1/stream/applications/{name}/resource-tree")
APP_STREAM = ("GET", "/api/v1/stream/applications")


@pytest.fixture
def slow_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Env]:
    """Controller time at 1/10: the 30 s scale-down delay lasts 3 s of watching."""
    sb = Sandbox(SandboxConfig(time_scale=0.1, state_dir=tmp_path / "sandbox-state")).start()
    try:
        yield make_env(tmp_path, monkeypatch, capsys, sb)
    finally:
        sb.stop()


def _promote(sb: Sandbox) -> None:
    """The Argo CD UI's "resume" action on the Rollout, sent as a user would (not by the watch)."""
    query = (
        "namespace=default&resourceName=bluegreen-rollout&group=argoproj.io"
        "&kind=Rollout&version=v1alpha1"
    )
    req = urllib.request.Request(
        f"{sb.argocd_url}/api/v1/applications/myapp/resource/actions?{query}",
        data=json.dumps("resume").encode(),
        headers={"Authorization": f"Bearer {sb.token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def _until(check: Callable[[], bool], limit: float = 60.0) -> bool:
    """Wait for ``check`` (a generous limit that only a broken watch ever reaches)."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_status_watch_follows_the_streams_from_paused_to_healthy(
    slow_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    e = slow_env
    e.create_app()
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    e.bump("v2")
    e.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    screen = io.StringIO()  # not a terminal: a CI log
    monkeypatch.setattr(sys, "stdout", screen)
    seen: dict[str, object] = {}
    start = len(e.sb.requests)  # the waits above followed the app stream too

    def user() -> None:
        """Promote once the watch shows the paused rollout and follows both streams; press
        Ctrl-C once the old ReplicaSet has scaled down on screen."""
        try:
            seen["watching"] = _until(
                lambda: (
                    "Paused" in screen.getvalue()
                    and TREE_STREAM in e.sb.requests[start:]
                    and APP_STREAM in e.sb.requests[start:]
                )
            )
            seen["before"] = len(e.sb.requests)
            _promote(e.sb)
            seen["scaled_down"] = _until(lambda: "ScaledDown" in screen.getvalue())
            seen["after"] = len(e.sb.requests)
        finally:
            _thread.interrupt_main()

    thread = threading.Thread(target=user)
    thread.start()
    try:
        code = main(["status", "myapp", "--watch"])
    finally:
        thread.join()
    assert seen["watching"] and seen["scaled_down"], screen.getvalue()
    assert code == 130  # Ctrl-C
    during = [
        r
        for r in e.sb.requests[int(seen["before"]) : int(seen["after"])]  # type: ignore[call-overload]
        if r[0] != "POST"  # the user's promote
    ]
    print(f"\nstatus --watch, Paused -> Healthy -> old ReplicaSet scaled down: {during}")
    # each visible change reads the Rollout and the ReplicaSets around what moved; the app and its
    # tree come from the streams, which stayed open (a 2 s poller: 7 requests per poll, ~120 over
    # this transition). The sandbox's controller, ported pass for pass from upstream, goes through
    # a few more intermediate states than the four visible ones (conditions, selector, the
    # scale-down deadline), each a tree change: 8 reads on the older sandbox, 11 on this one.
    assert len(during) <= 12, during
    assert set(during) == {("GET", "/api/v1/applications/{name}/resource")}, during

    out = screen.getvalue()
    # the whole view once, then only what changed: each state shows, in order
    assert out.count("Application:     myapp") == 1
    paused, healthy, scaled = (
        out.index("Paused"),
        out.index("Status:          ✔ Healthy"),
        out.index("ScaledDown"),
    )
    assert paused < healthy < scaled
    assert "\033[" not in out  # no terminal control codes in a log
    assert "changed:\nHealth:          Progressing\n" in out  # one line for a one-line change


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_watch_on_a_terminal_redraws_in_place_and_ctrl_c_leaves_it_clean(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    monkeypatch.setenv("NO_COLOR", "1")
    term = Terminal()
    monkeypatch.setattr(sys, "stdout", term)

    def user() -> None:
        try:
            _until(lambda: TREE_STREAM in env.sb.requests and "Healthy" in term.getvalue())
            _until(lambda: term.getvalue().count("\033[H") >= 2)  # a tick redrew it (ages move)
        finally:
            _thread.interrupt_main()

    thread = threading.Thread(target=user)
    thread.start()
    try:
        code = main(["status", "myapp", "--watch"])
    finally:
        thread.join()
    assert code == 130
    out = term.getvalue()
    frames = out.split("\033[H")
    assert out.startswith("\033[?25l\033[H\033[2J")  # cursor hidden, screen cleared once
    assert out.count("\033[2J") == 1  # later frames overwrite in place: no blank frame
    assert len(frames) >= 3  # redrawn (ages tick) without a request
    assert all(line.endswith("\033[K") for line in frames[-1].split("\n")[:-1])
    assert out.endswith("\033[J\033[?25h")  # the rest cleared, the cursor shown again


def test_status_watch_falls_back_to_polling_without_streams(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    env.sb.inject("http-error", status=404, count=100, path="/api/v1/stream")
    code, out, err = env.cli("status", "myapp", "--watch", "--timeout", "1s")
    assert code == 0, err
    assert "stream unavailable" in err and "polling every 2s" in err
    assert out.count("Application:     myapp") == 1 and "✔ Healthy" in out


def test_status_watch_reopens_a_cut_stream(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    env.sb.inject("drop-stream", count=1, after=1)
    before = len(env.sb.requests)
    code, _, err = env.cli("status", "myapp", "--watch", "--timeout", "1s")
    assert code == 0, err
    assert env.sb.requests[before:].count(APP_STREAM) == 2  # cut, reopened: no polling
    assert "polling" not in err
