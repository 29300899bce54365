"""Argo CD behaviours a release tool depends on, and the control API's faults, over HTTP."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import GitOpsRepo, Http, application, host, until

from gitops_release.sandbox.server import Sandbox

APP = "/api/v1/applications/myapp"
INFO = "/rollouts/api/v1/rollouts/default/bluegreen-rollout/info"
RO = "namespace=default&resourceName=bluegreen-rollout&group=argoproj.io&kind=Rollout&version=v1alpha1"


def health(api: Http) -> str:
    return str(api.get(APP)["status"]["health"]["status"])


def start(
    sb: Sandbox, tmp_path: Path, *, auto: bool = True, url: str | None = None
) -> tuple[Http, GitOpsRepo]:
    api = Http(sb.argocd_url, sb.token)
    repo = GitOpsRepo(tmp_path / "repo", url or sb.repo_url("gitops"), sb.git_env())
    status, body = api.call("POST", "/api/v1/applications", application(repo.url, auto=auto))
    assert status == 200, body
    return api, repo


def test_auto_sync_polls_git_without_a_refresh(sandbox: Sandbox, tmp_path: Path) -> None:
    api, repo = start(sandbox, tmp_path)
    until(lambda: health(api) == "Healthy")
    sandbox.apps.poll_seconds = 1e9  # however slow the machine, no poll before we look
    sha = repo.set_image("v2")
    time.sleep(0.05)
    assert api.get(APP)["status"]["sync"].get("revision") != sha  # not yet: no refresh
    sandbox.apps.poll_seconds = 180
    sandbox.advance(180)  # Argo CD's reconciliation timeout
    until(
        lambda: api.get(APP)["status"]["sync"].get("revision") == sha,
        what="poll picked up the push",
    )
    until(lambda: health(api) == "Suspended")


def test_manual_sync_to_a_revision_prune_and_history_rollback(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    api, repo = start(sandbox, tmp_path, auto=False)
    app = api.get(APP)
    assert app["status"]["sync"]["status"] == "OutOfSync" and "operation" not in app
    first = repo.git("rev-parse", "HEAD")
    status, app = api.call("POST", APP + "/sync", {"revision": "main", "prune": True})
    assert status == 200 and app["operation"]["sync"]["revision"] == first
    assert "operationState" not in app["status"]  # SetAppOperation resets it
    until(lambda: api.get(APP)["status"].get("operationState", {}).get("phase") == "Succeeded")
    until(lambda: health(api) == "Healthy")
    # a file removed from Git: OutOfSync with requiresPruning until a sync with prune
    (repo.app / "ingress.yaml").unlink()
    repo.commit_push("drop ingress")
    app = api.get(APP + "?refresh=normal")
    pruned = [r for r in app["status"]["resources"] if r.get("requiresPruning")]
    assert {r["name"] for r in pruned} == {"myapp-prod", "myapp-test"}
    assert app["status"]["sync"]["status"] == "OutOfSync"
    api.call("POST", APP + "/sync", {"prune": True})
    until(lambda: api.get(APP)["status"]["sync"]["status"] == "Synced", what="pruned")
    assert host(sandbox.ingress_url, "prod.myapp.com")[0] == 404
    # rollback to history id 0 re-applies the first revision
    history = api.get(APP)["status"]["history"]
    assert [h["id"] for h in history] == [0, 1]
    until(lambda: "operation" not in api.get(APP))
    status, app = api.call("POST", APP + "/rollback", {"id": 0})
    assert status == 200 and app["operation"]["sync"]["revision"] == first
    until(lambda: host(sandbox.ingress_url, "prod.myapp.com")[0] == 200, what="ingress back")
    status, body = api.call("POST", APP + "/rollback", {"id": 42})
    assert status in (400,) and "does not have deployment with id 42" in body["message"]


def test_operation_in_progress_fault_and_terminate(sandbox: Sandbox, tmp_path: Path) -> None:
    api, _ = start(sandbox, tmp_path)
    until(lambda: health(api) == "Healthy")
    ctl = Http(sandbox.argocd_url)
    status, _ = ctl.call(
        "POST",
        "/sandbox/api/v1/faults",
        {"kind": "operation-in-progress", "app": "myapp", "seconds": 600},
    )
    assert status == 200
    status, body = api.call("POST", APP + "/sync", {})
    assert (status, body["code"], body["message"]) == (
        400,
        9,
        "another operation is already in progress",
    )
    app = api.get(APP)
    assert app["operation"] and app["status"]["operationState"]["phase"] == "Running"
    assert api.call("DELETE", APP + "/operation") == (200, {})
    until(lambda: api.get(APP)["status"]["operationState"]["phase"] == "Failed")
    assert api.get(APP)["status"]["operationState"]["message"] == "Operation terminated"
    assert api.call("POST", APP + "/sync", {})[0] == 200


def test_http_error_burst_latency_and_reset(sandbox: Sandbox) -> None:
    api, ctl = Http(sandbox.argocd_url, sandbox.token), Http(sandbox.argocd_url)
    ctl.call(
        "POST",
        "/sandbox/api/v1/faults",
        {"kind": "http-error", "status": 503, "count": 2, "path": "/api/v1/applications"},
    )
    assert api.call("GET", "/api/v1/applications")[0] == 503
    status, body = api.call("GET", "/api/v1/applications")
    assert (status, body["code"]) == (503, 14)
    assert api.call("GET", "/api/v1/applications")[0] == 200
    ctl.call(
        "POST",
        "/sandbox/api/v1/faults",
        {"kind": "http-error", "status": 502, "count": 1, "path": "/api/"},
    )
    status, body = api.call("GET", "/api/version")
    assert status == 502 and "<html>" in body
    ctl.call(
        "POST",
        "/sandbox/api/v1/faults",
        {"kind": "http-error", "status": 500, "count": -1, "path": "/rollouts/"},
    )
    assert Http(sandbox.rollouts_url).call("GET", "/rollouts/api/v1/version")[0] == 500
    assert ctl.get("/sandbox/api/v1/state")["faults"]
    ctl.call("POST", "/sandbox/api/v1/reset", {})
    assert Http(sandbox.rollouts_url).call("GET", "/rollouts/api/v1/version")[0] == 200
    ctl.call(
        "POST",
        "/sandbox/api/v1/faults",
        {"kind": "latency", "seconds": 0.3, "count": 1, "path": "/api/version"},
    )
    with pytest.raises(TimeoutError):
        api.call("GET", "/api/version", timeout=0.1)
    assert api.call("GET", "/api/version")[0] == 200


def _stream_lines(sb: Sandbox, path: str, n: int, timeout: float = 10) -> tuple[list[bytes], bytes]:
    url = urllib.parse.urlsplit(sb.argocd_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    conn.request("GET", path, headers={"Authorization": f"Bearer {sb.token}"})
    resp = conn.getresponse()
    lines = [resp.readline() for _ in range(n)]
    try:
        rest = resp.read()
    except http.client.IncompleteRead as err:
        rest = b"<cut>" + err.partial
    except TimeoutError:
        rest = b"<open>"
    conn.close()
    return lines, rest


def test_watch_events_follow_the_app_and_a_dropped_stream_is_cut(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    api, repo = start(sandbox, tmp_path)
    until(lambda: health(api) == "Healthy")
    sandbox.inject("drop-stream", count=1, after=1)
    lines, rest = _stream_lines(sandbox, "/api/v1/stream/applications?name=myapp", 1, timeout=2)
    assert json.loads(lines[0])["result"]["type"] == "ADDED"
    assert rest.startswith(b"<cut>") or rest == b""  # no closing chunk: the client sees a cut
    # a missing app: the stream stays silent (no error, no event)
    url = urllib.parse.urlsplit(sandbox.argocd_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=0.5)
    conn.request(
        "GET",
        "/api/v1/stream/applications?name=nope",
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(TimeoutError):
        resp.readline()
    conn.close()
    # MODIFIED events carry the new state as the push rolls out
    seen: list[str] = []
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request(
        "GET",
        "/api/v1/stream/applications?name=myapp",
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )
    resp = conn.getresponse()
    assert json.loads(resp.readline())["result"]["type"] == "ADDED"
    repo.set_image("v2")
    api.get(APP + "?refresh=normal")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "Suspended" not in seen:
        event = json.loads(resp.readline())["result"]
        assert event["type"] == "MODIFIED"
        seen.append(event["application"]["status"]["health"]["status"])
    conn.close()
    assert "Suspended" in seen


def test_failing_image_never_ready_degrades_and_http_500(sandbox: Sandbox, tmp_path: Path) -> None:
    api, repo = start(sandbox, tmp_path)
    until(lambda: health(api) == "Healthy")
    ctl = Http(sandbox.argocd_url)
    ctl.call(
        "POST",
        "/sandbox/api/v1/images/fail",
        {"image": "ikubernetes/myapp:v9", "mode": "never-ready"},
    )
    repo.set_image("v9")
    api.get(APP + "?refresh=normal")
    until(
        lambda: (rs := api.get(INFO)["replicaSets"][0])["revision"] == 2 and rs.get("pods"),
        what="v9 pods",
    )
    pod = api.get(INFO)["replicaSets"][0]["pods"][0]
    assert pod["ready"] == "0/1"
    sandbox.advance(700)  # past progressDeadlineSeconds (600)
    until(lambda: health(api) == "Degraded", what="ProgressDeadlineExceeded")
    rollout = next(r for r in api.get(APP)["status"]["resources"] if r["kind"] == "Rollout")
    assert rollout["health"]["message"].startswith(
        'ProgressDeadlineExceeded: ReplicaSet "bluegreen-rollout-'
    )
    assert host(sandbox.ingress_url, "prod.myapp.com")[1].startswith("Hello MyApp | Version: v1")
    assert host(sandbox.ingress_url, "test.myapp.com") == (503, "no available server")
    # http-500: ready pods that answer 500
    ctl.call(
        "POST", "/sandbox/api/v1/images/fail", {"image": "ikubernetes/myapp:v1", "mode": "http-500"}
    )
    assert host(sandbox.ingress_url, "prod.myapp.com")[0] == 500
    ctl.call("DELETE", "/sandbox/api/v1/images/fail")
    assert host(sandbox.ingress_url, "prod.myapp.com")[0] == 200


def test_abort_then_git_revert_is_a_fast_rollback(sandbox: Sandbox, tmp_path: Path) -> None:
    api, repo = start(sandbox, tmp_path)
    until(lambda: health(api) == "Healthy")
    repo.set_image("v2")
    api.get(APP + "?refresh=normal")
    until(lambda: health(api) == "Suspended")
    assert api.call("POST", f"{APP}/resource/actions?{RO}", raw=b'"abort"')[0] == 200
    until(lambda: health(api) == "Degraded")
    repo.set_image("v1")  # write the stable tag back to Git: no pause, Healthy at once
    api.get(APP + "?refresh=normal")
    until(lambda: health(api) == "Healthy" and api.get(APP)["status"]["sync"]["status"] == "Synced")
    info = api.get(INFO)
    assert info["replicaSets"][0]["revision"] == 3 and info["replicaSets"][0]["active"]


def test_session_login_cookie_and_version(sandbox: Sandbox) -> None:
    anon = Http(sandbox.argocd_url)
    assert anon.get("/api/version") == {"Version": anon.get("/api/version")["Version"]}
    status, body = anon.call(
        "POST", "/api/v1/session", {"username": "admin", "password": sandbox.admin_password}
    )
    assert status == 200
    cookie = Http(sandbox.argocd_url).call(
        "GET", "/api/v1/applications", headers={"Cookie": f"argocd.token={body['token']}"}
    )
    assert cookie[0] == 200
    assert "BuildDate" in Http(sandbox.argocd_url, body["token"]).get("/api/version")
    assert (
        anon.call("POST", "/api/v1/session", {"username": "admin", "password": ""})[1]["message"]
        == "Blank passwords are not allowed"
    )
    assert anon.call("POST", "/api/v1/session", {})[1]["message"] == "no credentials supplied"


def test_kustomize_and_file_url_sources(sandbox: Sandbox, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    api, repo = start(sandbox, tmp_path, url=bare.as_uri())
    until(lambda: health(api) == "Healthy")
    (repo.app / "kustomization.yaml").write_text(
        "resources:\n- rollout.yaml\n- service.yaml\n- ingress.yaml\n"
        "images:\n- name: ikubernetes/myapp\n  newTag: v2\n"
    )
    repo.commit_push("kustomize v2")
    app = api.get(APP + "?refresh=normal")
    assert app["status"]["sourceType"] == "Kustomize"
    assert app["status"]["summary"]["images"] == ["ikubernetes/myapp:v2"]
    until(lambda: health(api) == "Suspended")
    # a plain path works too, and a bad path is a ComparisonError
    spec: dict[str, Any] = api.get(APP)["spec"]
    spec["source"] = {"repoURL": str(bare), "path": "missing", "targetRevision": "main"}
    status, app = api.call(
        "POST", "/api/v1/applications?upsert=true", {"metadata": {"name": "myapp"}, "spec": spec}
    )
    assert status == 200
    app = api.get(APP + "?refresh=hard")
    assert app["status"]["sync"]["status"] == "Unknown"
    assert app["status"]["conditions"][0]["type"] == "ComparisonError"


def test_multi_wave_sync_stays_running_while_the_rollout_is_paused(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    api, repo = start(sandbox, tmp_path)
    until(lambda: health(api) == "Healthy")
    text = (repo.app / "rollout.yaml").read_text()
    text = text.replace(
        "  name: bluegreen-rollout\n",
        '  name: bluegreen-rollout\n  annotations:\n    argocd.argoproj.io/sync-wave: "1"\n',
    )
    (repo.app / "rollout.yaml").write_text(text)
    repo.set_image("v2")
    api.get(APP + "?refresh=normal")
    until(lambda: health(api) == "Suspended")
    time.sleep(0.1)  # 10 s of controller time: the operation must still be waiting
    state = api.get(APP)["status"]["operationState"]
    assert state["phase"] == "Running"
    assert state["message"] == "waiting for healthy state of argoproj.io/Rollout/bluegreen-rollout"
    api.call("POST", f"{APP}/resource/actions?{RO}", raw=b'"resume"')
    until(
        lambda: api.get(APP)["status"]["operationState"]["phase"] == "Succeeded",
        what="sync done after promote",
    )


def test_set_image_applies_then_never_answers_and_gzip(sandbox: Sandbox, tmp_path: Path) -> None:
    api, _ = start(sandbox, tmp_path)
    until(lambda: health(api) == "Healthy")
    dash = Http(sandbox.rollouts_url)
    with pytest.raises(TimeoutError):
        dash.call(
            "PUT",
            "/rollouts/api/v1/rollouts/default/bluegreen-rollout/set/myapp/docker.io/ikubernetes/myapp/v7",
            {},
            timeout=0.5,
        )
    assert dash.get(INFO)["containers"] == [
        {"name": "myapp", "image": "docker.io/ikubernetes/myapp:v7"}
    ]
    url = urllib.parse.urlsplit(sandbox.argocd_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    conn.request(
        "GET",
        "/api/v1/applications",
        headers={"Authorization": f"Bearer {sandbox.token}", "Accept-Encoding": "gzip"},
    )
    resp = conn.getresponse()
    import gzip

    assert resp.getheader("Content-Encoding") == "gzip"
    assert json.loads(gzip.decompress(resp.read()))["items"][0]["metadata"]["name"] == "myapp"
    conn.close()


def test_a_steady_app_is_quiet_on_the_watch_until_the_next_poll(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    api, _ = start(sandbox, tmp_path)
    until(lambda: health(api) == "Healthy" and "operation" not in api.get(APP))
    sandbox.apps.poll_seconds = 1e9  # no poll inside the quiet window, however slow the machine
    time.sleep(0.2)
    url = urllib.parse.urlsplit(sandbox.argocd_url)
    conn = http.client.HTTPConnection(
        url.hostname, url.port, timeout=0.6
    )  # 60 s of controller time
    conn.request(
        "GET",
        "/api/v1/stream/applications?name=myapp",
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )
    resp = conn.getresponse()
    first = json.loads(resp.readline())["result"]
    assert first["type"] == "ADDED"
    with pytest.raises(TimeoutError):
        resp.readline()  # nothing changed, so nothing is sent (reconciledAt only moves on a compare)
    conn.close()
    before = api.get(APP)["status"]["reconciledAt"]
    sandbox.apps.poll_seconds = 180
    sandbox.advance(181)
    until(lambda: api.get(APP)["status"]["reconciledAt"] != before, what="the poll reconciles")


def test_injected_sync_failure_ends_the_operation_failed(sandbox: Sandbox, tmp_path: Path) -> None:
    api, repo = start(sandbox, tmp_path)
    until(lambda: health(api) == "Healthy" and "operation" not in api.get(APP))
    Http(sandbox.argocd_url).call(
        "POST",
        "/sandbox/api/v1/faults",
        {"kind": "sync-fails", "app": "myapp", "message": "quota exceeded"},
    )
    sha = repo.set_image("v2")
    api.get(APP + "?refresh=normal")
    until(lambda: api.get(APP)["status"]["operationState"]["phase"] == "Failed", what="failed sync")
    app = api.get(APP)
    state = app["status"]["operationState"]
    assert state["message"] == "one or more objects failed to apply, reason: quota exceeded"
    assert state["operation"]["sync"]["revision"] == sha and "finishedAt" in state
    assert app["status"]["sync"]["status"] == "OutOfSync"
    assert [h["revision"] for h in app["status"]["history"]] != [sha]
    time.sleep(0.1)
    assert "operation" not in api.get(APP)  # auto-sync does not retry a failed revision by itself
    assert api.call("POST", APP + "/sync", {})[0] == 200  # a manual sync does
    until(lambda: health(api) == "Suspended", what="v2 preview after the manual sync")


def test_malformed_bodies_are_400_and_a_sandbox_bug_is_a_500_not_a_hang_up(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, _ = start(sandbox, tmp_path)
    status, body = api.call("POST", APP + "/sync", [1, 2])
    assert (status, body["code"]) == (400, 3) and "cannot unmarshal array" in body["message"]
    status, body = api.call("POST", APP + "/sync", raw=b"{not json")
    assert (status, body["code"]) == (400, 3)
    status, body = Http(sandbox.rollouts_url).call(
        "PUT", "/rollouts/api/v1/rollouts/default/bluegreen-rollout/promote", "x"
    )
    assert (status, body) == (
        400,
        {"code": 3, "message": "json: cannot unmarshal string into Go value of type object"},
    )

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(sandbox.cluster, "tree_nodes", broken)
    status, body = api.call("GET", APP + "/resource-tree")
    assert (status, body["code"], body["message"]) == (
        500,
        2,
        "sandbox internal error: RuntimeError: boom",
    )


def test_the_date_header_is_on_the_controller_clock(sandbox: Sandbox) -> None:
    import email.utils

    sandbox.advance(3600)
    url = urllib.parse.urlsplit(sandbox.argocd_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    conn.request("GET", "/api/version")
    resp = conn.getresponse()
    resp.read()
    conn.close()
    served = email.utils.parsedate_to_datetime(resp.getheader("Date", ""))
    assert abs((served - sandbox.clock.now()).total_seconds()) < 600  # 6 s of wall time
    assert (served - sandbox.clock.at(0)).total_seconds() >= 3600


def test_state_dir_keeps_repositories_and_applications_across_restarts(tmp_path: Path) -> None:
    from gitops_release.sandbox.server import SandboxConfig

    state = tmp_path / "state"
    first = Sandbox(SandboxConfig(time_scale=0.01, state_dir=state)).start()
    try:
        api, _ = start(first, tmp_path)
        until(lambda: health(api) == "Healthy")
    finally:
        first.stop()
    second = Sandbox(SandboxConfig(time_scale=0.01, state_dir=state)).start()
    try:
        api = Http(second.argocd_url, second.token)
        app = api.get(APP)
        assert app["spec"]["source"]["repoURL"] == second.repo_url("gitops")
        until(lambda: health(api) == "Healthy", what="redeployed after the restart")
        assert host(second.ingress_url, "prod.myapp.com")[1].startswith("Hello MyApp | Version: v1")
    finally:
        second.stop()
    assert (state / "applications.json").exists()


def test_a_client_hanging_up_leaves_no_traceback_but_real_errors_still_show(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A killed CLI or a cut watch must not print a BrokenPipe traceback on the sandbox's
    stderr (found by the reliability suite); a real bug in a handler still does."""
    import http.server

    from gitops_release.sandbox.server import _Server

    server = _Server(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    try:
        for hang_up in (BrokenPipeError(), ConnectionResetError()):
            try:
                raise hang_up
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 1))
        assert "Traceback" not in capfd.readouterr().err
        try:
            raise ValueError("a handler bug")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "ValueError: a handler bug" in capfd.readouterr().err
    finally:
        server.server_close()
