"""``sandbox up --registry``: a real docker-registry beside the sandbox, and its cluster pulls by
the kubelet's rule: a pod whose tag the registry does not have stays ``ErrImagePull`` then
``ImagePullBackOff`` (in the resource tree as kubectl shows it) until progressDeadlineSeconds
makes the Rollout Degraded (ProgressDeadlineExceeded); a pushed tag runs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_release.sandbox.server import Sandbox, SandboxConfig
from tests.conftest import Env, make_env
from tests.registry.server import BINARY, IN_CI, Registry


@pytest.fixture
def registry_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    if not os.access(BINARY, os.X_OK):
        reason = f"{BINARY} not found (apt-get install -y --no-install-recommends docker-registry)"
        if IN_CI:
            pytest.fail(f"{reason} (CI is set: tests that need it must run)", pytrace=False)
        pytest.skip(reason)
    config = SandboxConfig(time_scale=0.01, state_dir=tmp_path / "state", registry=True)
    with Sandbox(config) as sb:
        yield sb


def pods(e: Env) -> list[dict[str, Any]]:
    status = json.loads(e.ok("status", "myapp", "-o", "json"))
    return [pod for rs in status["rollout"]["replica_sets"] for pod in rs["pods"]]


def live_pod(sb: Sandbox, name: str) -> dict[str, Any]:
    """The Pod as ``kubectl get pod -o json`` shows it, through Argo CD's resource API."""
    import requests

    got = requests.get(
        f"{sb.argocd_url}/api/v1/applications/myapp/resource",
        params={"namespace": "default", "resourceName": name, "version": "v1", "kind": "Pod"},
        headers={"Authorization": f"Bearer {sb.token}"},
        timeout=10,
    )
    assert got.status_code == 200, got.text
    return dict(json.loads(got.json()["manifest"]))


def release(e: Env, image: str) -> None:
    e.ok("bump-image", image, "--app", "myapp", "--repo", str(e.repo), "--verify-image", "off")
    e.ok("sync", "myapp")


def test_a_tag_the_registry_lacks_cannot_be_pulled_until_the_deadline(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registry_sandbox: Sandbox,
) -> None:
    sb = registry_sandbox
    assert sb.registry is not None
    host = sb.env()["SANDBOX_REGISTRY"]
    assert host == sb.registry.host and list(sb.env())[-1] == "SANDBOX_INGRESS"
    pusher = Registry(host=host, mode="none", process=None)
    pusher.push("team/myapp", "v1")
    e = make_env(tmp_path, monkeypatch, capsys, sb)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sb.git_token)
    e.create_app()
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    release(e, f"{host}/team/myapp:v1-typo")
    sb.advance(5)
    bad = [p for p in pods(e) if p["status"] in ("ErrImagePull", "ImagePullBackOff")]
    assert bad, pods(e)
    sb.advance(30)
    assert {p["status"] for p in bad} <= {"ErrImagePull", "ImagePullBackOff"}
    assert any(p["status"] == "ImagePullBackOff" for p in pods(e)), pods(e)
    # kubectl's view: the container waits with the reason; Argo CD's Pod health is Progressing
    pod = live_pod(sb, next(p["name"] for p in pods(e) if p["status"] == "ImagePullBackOff"))
    assert pod["spec"]["containers"][0]["image"] == f"{host}/team/myapp:v1-typo"
    assert pod["status"]["phase"] == "Pending"  # no container started
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ImagePullBackOff"
    assert waiting["message"] == f'Back-off pulling image "{host}/team/myapp:v1-typo"'
    assert "ImagePullBackOff" in e.ok("status", "myapp")  # the tree, as a person reads it

    sb.advance(600)  # progressDeadlineSeconds (the default, 600 s)
    status = json.loads(e.ok("status", "myapp", "-o", "json"))
    assert status["rollout"]["status"] == "Degraded", status["rollout"]
    assert "ProgressDeadlineExceeded" in json.dumps(status["rollout"])
    assert "Version: v1" in str(e.host("prod.myapp.com"))  # prod never moved


def test_a_pushed_tag_is_pulled(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registry_sandbox: Sandbox,
) -> None:
    sb = registry_sandbox
    host = sb.env()["SANDBOX_REGISTRY"]
    pusher = Registry(host=host, mode="none", process=None)
    pusher.push("team/myapp", "v2")
    e = make_env(tmp_path, monkeypatch, capsys, sb)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sb.git_token)
    e.create_app()
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    release(e, f"{host}/team/myapp:v2")
    e.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    assert all(p["status"] == "Running" for p in pods(e)), pods(e)


def test_up_with_registry_prints_its_address_and_stops_it(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import threading
    import urllib.error
    import urllib.request

    if not os.access(BINARY, os.X_OK):
        if IN_CI:
            pytest.fail(f"{BINARY} not found (CI is set: tests that need it must run)")
        pytest.skip(f"{BINARY} not found")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitops_release", "sandbox", "up", "--registry",
         "--time-scale", "0.01", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(9)]
        names = [line.split("=", 1)[0].removeprefix("export ") for line in lines]
        assert names[-3:] == [
            "SANDBOX_REGISTRY",
            "GITOPS_RELEASE_INGRESS_URL",
            "SANDBOX_INGRESS",
        ], lines
        host = lines[-3].split("=", 1)[1]
        with urllib.request.urlopen(f"http://{host}/v2/", timeout=5) as reply:
            assert reply.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    with pytest.raises(urllib.error.URLError):  # stopped with the sandbox
        urllib.request.urlopen(f"http://{host}/v2/", timeout=2)


def test_up_with_registry_without_docker_registry_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gitops_release.cli import main

    monkeypatch.setenv("PATH", str(tmp_path))  # no docker-registry there
    code = main(["sandbox", "up", "--registry", "--state-dir", str(tmp_path / "state")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--registry needs Debian's docker-registry" in err
    assert "apt-get install docker-registry" in err
    assert not (tmp_path / "state").exists()  # nothing started
