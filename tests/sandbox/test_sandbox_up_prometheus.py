"""``sandbox up --prometheus``: a real Prometheus beside the sandbox, scraping its pods, its
address among the exports (before SANDBOX_INGRESS, still last), stopped with the sandbox."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gitops_release.cli import main
from gitops_release.sandbox import prometheus as prometheus_module
from tests.conftest import IN_CI

NAMES = [
    "ARGOCD_SERVER",
    "ARGOCD_AUTH_TOKEN",
    "SANDBOX_ADMIN_PASSWORD",
    "ROLLOUTS_SERVER",
    "SANDBOX_GIT",
    "SANDBOX_GIT_TOKEN",
    "SANDBOX_PROMETHEUS",
    "GITOPS_RELEASE_INGRESS_URL",
    "SANDBOX_INGRESS",
]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/-/ready", timeout=2):
            return True
    except (OSError, urllib.error.URLError):
        return False


def test_up_with_prometheus_exports_its_address_and_stops_it(tmp_path: Path) -> None:
    if prometheus_module.find_binary() is None:
        reason = "prometheus not found (apt-get install -y --no-install-recommends prometheus)"
        if IN_CI:
            pytest.fail(f"{reason} (CI is set: tests that need it must run)", pytrace=False)
        pytest.skip(reason)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitops_release", "sandbox", "up", "--prometheus",
         "--time-scale", "0.01", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    watchdog = threading.Timer(90, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip("\n") for _ in NAMES]
        assert [line.split("=", 1)[0] for line in lines] == [f"export {n}" for n in NAMES]
        values = dict(line.removeprefix("export ").split("=", 1) for line in lines)
        prom = values["SANDBOX_PROMETHEUS"]
        assert prom.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(prom + "/api/v1/targets", timeout=5) as resp:
            (target,) = json.loads(resp.read())["data"]["activeTargets"]
        api_port = values["ARGOCD_SERVER"].rsplit(":", 1)[1]
        assert target["scrapeUrl"] == f"http://127.0.0.1:{api_port}/sandbox/api/v1/metrics"
        assert target["health"] == "up"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert f"prometheus on {prom}" in stderr
    assert not _answers(prom)  # stopped with the sandbox


def test_up_with_prometheus_missing_is_a_usage_error_naming_the_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(prometheus_module, "DEFAULT_BINARY", str(tmp_path / "no-prometheus"))
    before = set(threading.enumerate())
    assert main(["sandbox", "up", "--prometheus"]) == 2
    err = capsys.readouterr().err
    assert "prometheus is not installed" in err and "apt-get install" in err, err
    assert set(threading.enumerate()) - before == set()  # nothing started
