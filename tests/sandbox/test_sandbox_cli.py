"""``sandbox up`` as a real process (export lines, SIGTERM, clean exit) and ``sandbox demo``."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import until

from gitops_release.cli import main
from gitops_release.sandbox.server import Sandbox

NAMES = [
    "ARGOCD_SERVER",
    "ARGOCD_AUTH_TOKEN",
    "SANDBOX_ADMIN_PASSWORD",
    "ROLLOUTS_SERVER",
    "SANDBOX_GIT",
    "SANDBOX_GIT_TOKEN",
    "GITOPS_RELEASE_INGRESS_URL",  # the client's setting: verify --preview works with the file sourced
    "SANDBOX_INGRESS",  # last, as before: scripts wait for it
]


def test_up_prints_exports_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gitops_release",
            "sandbox",
            "up",
            "--time-scale",
            "0.01",
            "--state-dir",
            str(tmp_path / "state"),
            "--env-file",
            str(env_file),
            "--log-level",
            "debug",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(60, proc.kill)  # a hung start fails the test instead of hanging it
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip("\n") for _ in NAMES]
        assert [line.split("=", 1)[0] for line in lines] == [f"export {n}" for n in NAMES]
        values = dict(line.removeprefix("export ").split("=", 1) for line in lines)
        assert values["ARGOCD_SERVER"].startswith("http://127.0.0.1:")
        assert values["SANDBOX_GIT"].endswith("/git")
        assert values["GITOPS_RELEASE_INGRESS_URL"] == values["SANDBOX_INGRESS"]
        assert env_file.read_text().splitlines() == lines
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        with urllib.request.urlopen(values["ARGOCD_SERVER"] + "/api/version", timeout=5) as resp:
            assert json.loads(resp.read())["Version"].startswith("v3.")
        req = urllib.request.Request(
            values["ARGOCD_SERVER"] + "/api/v1/applications",
            headers={"Authorization": f"Bearer {values['ARGOCD_AUTH_TOKEN']}"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert json.loads(resp.read())["items"] == []
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert stdout == ""  # nothing more on stdout after the exports
    assert "sandbox: stopping" in stderr
    assert '"GET /api/version HTTP/1.1" 200' in stderr  # --log-level debug: each request


def test_up_quiet_logs_no_request_and_no_chatter(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitops_release", "sandbox", "up", "--quiet",
         "--time-scale", "0.01", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip("\n") for _ in NAMES]
        server = dict(line.removeprefix("export ").split("=", 1) for line in lines)["ARGOCD_SERVER"]
        with urllib.request.urlopen(server + "/api/version", timeout=5) as resp:
            assert resp.status == 200
        with contextlib.suppress(urllib.error.HTTPError):  # refused: logged at info, not here
            urllib.request.urlopen(server + "/api/v1/applications/nope", timeout=5)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    chatter = [line for line in stderr.splitlines() if "not found (GITOPS_RELEASE_" not in line]
    assert chatter == [], stderr  # only a missing kubectl/helm would be worth a warning


def test_up_refuses_a_bad_time_scale(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "up", "--time-scale", "0"]) == 2
    assert "--time-scale" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_plays_the_guide_and_stops_everything(capsys: pytest.CaptureFixture[str]) -> None:
    before = set(threading.enumerate())
    code = main(["sandbox", "demo"])
    out = capsys.readouterr().out
    assert code == 0, out[-5000:]
    if shutil.which("docker-registry"):  # step 8: a typo'd tag refused before Git
        assert "13/13 checks passed" in out
        assert "$ gitops-release deploy $SANDBOX_REGISTRY/team/myapp:v5-rc --app myapp" in out
        assert "has no tag v5-rc in team/myapp (nearest existing: v5;" in out
        assert re.search(r"\(refused in \d+\.\d\d s, the process's start included\)", out)
    else:
        assert "12/12 checks passed" in out
    assert "[FAILED]" not in out
    assert "Message:         BlueGreenPause" in out
    # the guide played through the tool's own commands, each a separate process
    for command in ("scaffold myapp", "app create", "deploy v2", "promote myapp --wait",
                    "rollback myapp --to v1", "abort myapp"):  # fmt: skip
        assert f"$ gitops-release {command}" in out, command
    assert "myapp: Git and Argo CD back on ikubernetes/myapp:v1, Healthy" in out
    # it shows the command that really ran: neither argocd nor kubectl can talk to the sandbox
    assert "$ argocd " not in out and "$ kubectl " not in out
    assert out.count("$ gitops-release status myapp") >= 7
    assert "draws what `kubectl argo rollouts get rollout myapp` draws" in out
    assert "$ git config credential.helper " in out  # pushed with plain git, as README says
    assert "smoke check preview failed" in out and "is Healthy on ikubernetes/myapp:v1 again" in out
    deadline = time.monotonic() + 10
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)  # request threads finish their last reply
    left = set(threading.enumerate()) - before
    assert left == set(), [t.name for t in left]


def test_a_port_in_use_is_a_usage_error_and_leaves_nothing_running(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import socket

    env_file = tmp_path / "sandbox.env"

    before = set(threading.enumerate())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        assert main(["sandbox", "up", "--port", port, "--env-file", str(env_file)]) == 2
    assert "Address already in use" in capsys.readouterr().err
    assert not env_file.exists()  # no empty env file for a script to wait on
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(threading.enumerate()) - before == set()


@pytest.mark.parametrize("where", ["missing-dir", "a-directory"])
def test_an_env_file_that_cannot_be_written_is_named_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    if where == "missing-dir":
        env_file, named = (
            tmp_path / "nonexistent" / "dir" / "x.env",
            tmp_path / "nonexistent" / "dir",
        )
    else:
        env_file = named = tmp_path / "env"
        env_file.mkdir()
    state = tmp_path / "state"
    before = set(threading.enumerate())
    code = main(["sandbox", "up", "--state-dir", str(state), "--env-file", str(env_file)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"--env-file {env_file}" in err and str(named) in err
    assert "cannot listen" not in err
    assert not state.exists()  # nothing started: no state directory, no threads
    assert set(threading.enumerate()) - before == set()


def test_the_runner_opens_the_env_file_before_starting_anything(tmp_path: Path) -> None:
    from gitops_release.sandbox.runner import up
    from gitops_release.sandbox.server import SandboxConfig

    env_file, state = tmp_path / "missing" / "x.env", tmp_path / "state"
    with pytest.raises(OSError) as caught:
        up(SandboxConfig(state_dir=state), env_file=env_file, stop=threading.Event())
    assert caught.value.filename == str(env_file)  # the CLI names the file from this
    assert not state.exists()


@contextlib.contextmanager
def _sandbox_up(tmp_path: Path, *args: str) -> Iterator[tuple[dict[str, str], io.StringIO]]:
    """``sandbox up`` (the runner the command calls) in a thread: its exports and its stderr."""
    from gitops_release.sandbox import runner
    from gitops_release.sandbox.server import SandboxConfig

    stop, out, err = threading.Event(), io.StringIO(), io.StringIO()
    config = SandboxConfig(time_scale=0.01, state_dir=tmp_path / "state", verbose=True)
    thread = threading.Thread(
        target=runner.up, args=(config,), kwargs={"out": out, "err": err, "stop": stop}
    )
    thread.start()
    try:
        until(lambda: "serving" in err.getvalue(), what="sandbox up to be serving")
        exports = out.getvalue().splitlines()
        yield (
            dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in exports),
            err,
        )
    finally:
        stop.set()
        thread.join(20)


def test_plain_git_push_works_with_the_line_sandbox_up_prints(tmp_path: Path) -> None:
    checkout = tmp_path / "gitops"
    checkout.mkdir()
    run = functools.partial(subprocess.run, cwd=checkout, capture_output=True, text=True)
    run(["git", "init", "-q", "-b", "main"], check=True)
    (checkout / "README.md").write_text("# gitops\n")
    run(["git", "add", "README.md"], check=True)
    run(["git", "commit", "-q", "-m", "initial"], check=True)
    with _sandbox_up(tmp_path) as (values, err):
        hint = [line for line in err.getvalue().splitlines() if "credential.helper" in line]
        assert len(hint) == 1, err.getvalue()
        setup = hint[0][hint[0].index("git config credential.helper ") :]
        remote = values["SANDBOX_GIT"] + "/gitops.git"
        run(["git", "remote", "add", "origin", remote], check=True)
        refused = run(["git", "push", "-q", "origin", "main"])  # without it: no username
        assert refused.returncode != 0
        run(["sh", "-c", setup], check=True)  # once per checkout, as printed
        env = {
            **os.environ,
            "SANDBOX_GIT_TOKEN": values["SANDBOX_GIT_TOKEN"],
        }  # the env file, sourced
        pushed = run(["git", "push", "-q", "origin", "main"], env=env)
        assert pushed.returncode == 0, pushed.stderr
        listed = run(["git", "ls-remote", remote, "main"], env=env, check=True)
        assert (
            listed.stdout.split()[0] == run(["git", "rev-parse", "HEAD"], check=True).stdout.strip()
        )
    # the token is read from the environment at push time: never written to .git/config
    assert values["SANDBOX_GIT_TOKEN"] not in (checkout / ".git" / "config").read_text()
    assert values["SANDBOX_GIT_TOKEN"] not in setup


def test_the_help_example_waits_for_the_env_file_and_the_readmes_show_the_push_line(
    capsys: pytest.CaptureFixture[str], sandbox: Sandbox
) -> None:
    assert main(["sandbox", "up", "--help"]) == 0
    example = capsys.readouterr().out.split("Example:")[1]
    # sourcing the file right after starting the server in the background races its writing
    assert example.index("until [ -s sandbox.env ]") < example.index(". ./sandbox.env")
    root = Path(__file__).resolve().parents[2]
    line = sandbox.git_setup_line()
    assert line in (root / "README.md").read_text()
    assert line in (root / "gitops_release" / "sandbox" / "README.md").read_text()
