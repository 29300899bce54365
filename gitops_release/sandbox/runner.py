"""What ``gitops-release sandbox up`` and ``sandbox demo`` run."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import TextIO

from gitops_release.sandbox.argocd_api import ACTIONS_API
from gitops_release.sandbox.server import Sandbox, SandboxConfig

LOOPBACK = ("127.0.0.1", "localhost", "::1")


ACTIONS_API_VARIABLE = "SANDBOX_ACTIONS_API"


def up(
    config: SandboxConfig,
    *,
    env_file: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stop: threading.Event | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Serve in the foreground until SIGINT/SIGTERM (or ``stop``); print the export lines once.

    ``SANDBOX_ACTIONS_API`` (``v2``, ``v1-only``, ``v1-broken``) picks the resource-action API
    when the config leaves the default; an unknown value exits 2 before anything starts."""
    out, err = out or sys.stdout, err or sys.stderr
    stop = stop or threading.Event()
    environ = os.environ if environ is None else environ
    mode = environ.get(ACTIONS_API_VARIABLE, "")
    if mode and config.actions_api == "v2":
        if mode not in ACTIONS_API:
            choices = ", ".join(ACTIONS_API)
            print(f"sandbox: error: {ACTIONS_API_VARIABLE}={mode!r}: one of {choices}", file=err)
            raise SystemExit(2)
        config = dataclasses.replace(config, actions_api=mode)
    if config.log_stream is None:
        config = dataclasses.replace(config, log_stream=err)
    if config.host not in LOOPBACK:
        print(
            f"sandbox: warning: listening on {config.host}, not loopback: the APIs are reachable from the network",
            file=err,
        )
    previous = {}
    if threading.current_thread() is threading.main_thread():

        def _handler(signum: int, frame: FrameType | None) -> None:
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _handler)
    # Opened before anything starts: a path that cannot be written fails here (an OSError whose
    # filename is the env file), with no server, thread or state directory left behind.
    env_handle, created, written = None, False, False
    if env_file is not None:
        created = not env_file.exists()
        env_handle = os.fdopen(os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w")
    sb = Sandbox(config)
    try:
        sb.start()
        lines = sb.export_lines()
        if env_handle is not None:
            with env_handle:
                env_handle.write("\n".join(lines) + "\n")
            written = True
        out.write("\n".join(lines) + "\n")
        out.flush()
        sb.log(
            "for plain git push to SANDBOX_GIT, run once in your checkout"
            f" (reads $SANDBOX_GIT_TOKEN at push time): {sb.git_setup_line()}"
        )
        sb.log(f"serving (state {sb.state_dir}, time scale {config.time_scale}); Ctrl-C to stop")
        while not stop.wait(0.5):
            pass
        sb.log("stopping")
    finally:
        if env_handle is not None:
            env_handle.close()
            if created and not written and env_file is not None:
                env_file.unlink(missing_ok=True)  # a failed start leaves no empty env file behind
        sb.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def demo(out: TextIO | None = None, *, time_scale: float = 0.01) -> bool:
    from gitops_release.sandbox.demo import run_demo

    return run_demo(out or sys.stdout, time_scale=time_scale)
