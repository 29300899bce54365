"""The guide's story against the sandbox, with plain HTTP calls and git pushes only:
v1 live, bump to v2 (preview paused), promote, roll back to v1 through Git, v3 and abort."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import GitOpsRepo, Http, application, host, until

from gitops_release.sandbox.server import Sandbox, SandboxConfig

RO = "namespace=default&resourceName=bluegreen-rollout&group=argoproj.io&kind=Rollout&version=v1alpha1"
INFO = "/rollouts/api/v1/rollouts/default/bluegreen-rollout/info"


def rollout_health(app: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in app["status"]["resources"] if r["kind"] == "Rollout").get("health", {})


def tree(api: Http) -> list[tuple[int, str, int, str]]:
    """(revision, status, pods, tags) per ReplicaSet from the dashboard's RolloutInfo."""
    info = api.get(INFO)
    return [
        (
            rs["revision"],
            rs["status"],
            len(rs.get("pods", [])),
            ",".join(t for t in ("stable", "active", "preview") if rs.get(t)),
        )
        for rs in info["replicaSets"]
    ]


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """At 1/20 speed: the 30 s scale-down delay lasts 1.5 s, long enough to be seen under load."""
    sb = Sandbox(SandboxConfig(time_scale=0.05, state_dir=tmp_path / "sandbox-state")).start()
    try:
        yield sb
    finally:
        sb.stop()


def test_guide_scenario(sandbox: Sandbox, tmp_path: Path) -> None:
    api = Http(sandbox.argocd_url, sandbox.token)
    repo = GitOpsRepo(tmp_path / "argo-demo", sandbox.repo_url("argo-demo"), sandbox.git_env())
    prod = lambda: host(sandbox.ingress_url, "prod.myapp.com")  # noqa: E731
    test = lambda: host(sandbox.ingress_url, "test.myapp.com")  # noqa: E731

    # create the Application: auto-sync deploys v1 straight to active, no pause
    status, app = api.call("POST", "/api/v1/applications?upsert=true", application(repo.url))
    assert status == 200 and app["metadata"]["name"] == "myapp"
    first = repo.git("rev-parse", "HEAD")

    def released(revision: str) -> dict[str, Any] | None:
        a = api.get("/api/v1/applications/myapp")
        st = a["status"]
        ok = (st["sync"]["status"], st["health"]["status"], st["sync"].get("revision")) == (
            "Synced",
            "Healthy",
            revision,
        )
        return (
            a
            if ok and "operation" not in a and st["operationState"]["phase"] == "Succeeded"
            else None
        )

    app = until(lambda: released(first), what="v1 released")
    assert app["status"]["history"][0]["revision"] == first
    assert app["status"]["summary"]["images"] == ["ikubernetes/myapp:v1"]
    until(lambda: prod()[0] == 200, what="prod serving")
    assert prod() == (200, 'Hello MyApp | Version: v1 | <a href="hostname.html">Pod Name</a>')
    assert test()[1].startswith("Hello MyApp | Version: v1 |")
    assert tree(api) == [(1, "Healthy", 2, "stable,active")]
    pod = host(sandbox.ingress_url, "prod.myapp.com", "/hostname.html")[1]
    assert pod.startswith("bluegreen-rollout-")

    # bump to v2, push, refresh (no 3-minute wait): preview paused, prod v1, test v2
    second = repo.set_image("v2")
    app = api.get("/api/v1/applications/myapp?refresh=normal")
    assert app["status"]["sync"]["revision"] == second

    def paused() -> dict[str, Any] | None:
        a = api.get("/api/v1/applications/myapp")
        return a if a["status"]["health"]["status"] == "Suspended" else None

    app = until(paused, what="BlueGreenPause")
    assert rollout_health(app) == {"status": "Suspended", "message": "BlueGreenPause"}
    assert app["status"]["sync"]["status"] == "Synced"
    info = api.get(INFO)
    assert (info["status"], info["message"]) == ("Paused", "BlueGreenPause")
    assert (
        info["desired"],
        info["current"],
        info["updated"],
        info["ready"],
        info["available"],
    ) == (2, 3, 1, 2, 2)
    assert tree(api) == [(2, "Healthy", 1, "preview"), (1, "Healthy", 2, "stable,active")]
    assert prod()[1].startswith("Hello MyApp | Version: v1 |")
    assert test()[1].startswith("Hello MyApp | Version: v2 |")
    live = api.get(f"/api/v1/applications/myapp/resource?{RO}")
    import json

    rollout = json.loads(live["manifest"])
    assert rollout["status"]["pauseConditions"][0]["reason"] == "BlueGreenPause"
    actions = {
        a["name"]: a.get("disabled", False)
        for a in api.get(f"/api/v1/applications/myapp/resource/actions?{RO}")["actions"]
    }
    assert actions["resume"] is False and actions["retry"] is True

    # promote (the resume action, a bare JSON string body): both hosts v2, old RS delayed then scaled down
    status, body = api.call(
        "POST", f"/api/v1/applications/myapp/resource/actions?{RO}", raw=b'"resume"'
    )
    assert (status, body) == (200, {})
    until(lambda: api.get(INFO)["status"] == "Healthy", what="v2 healthy")
    assert prod()[1].startswith("Hello MyApp | Version: v2 |")
    assert test()[1].startswith("Hello MyApp | Version: v2 |")
    rows = api.get(INFO)["replicaSets"]
    assert rows[0]["stable"] and rows[0]["active"] and rows[0]["replicas"] == 2
    # the controller's next pass (once rev 1 is neither stable nor active) sets its deadline
    rows = until(
        lambda: "scaleDownDeadline" in (r := api.get(INFO)["replicaSets"])[1] and r,
        what="rev 1 scale-down deadline",
    )
    assert rows[1]["replicas"] == 2
    until(
        lambda: tree(api) == [(2, "Healthy", 2, "stable,active"), (1, "ScaledDown", 0, "")],
        what="rev 1 scaled down",
    )
    assert until(lambda: released(second), what="app healthy on v2")

    # roll back through Git: the old template returns as revision 3, pauses, promote -> v1
    third = repo.set_image("v1")
    api.get("/api/v1/applications/myapp?refresh=normal")
    until(paused, what="rollback preview paused")
    assert tree(api) == [(3, "Healthy", 1, "preview"), (2, "Healthy", 2, "stable,active")]
    assert api.get(INFO)["replicaSets"][0]["objectMeta"]["name"] == rows[1]["objectMeta"]["name"]
    assert prod()[1].startswith("Hello MyApp | Version: v2 |")
    assert test()[1].startswith("Hello MyApp | Version: v1 |")
    status, _ = api.call(
        "PUT", "/rollouts/api/v1/rollouts/default/bluegreen-rollout/promote", {"full": False}
    )
    assert status == 200
    until(lambda: released(third), what="v1 released again")
    assert prod()[1].startswith("Hello MyApp | Version: v1 |")

    # v3 and abort: Degraded with the controller's message, prod keeps v1, test stops
    repo.set_image("v3")
    api.get("/api/v1/applications/myapp?refresh=normal")
    until(paused, what="v3 preview paused")
    assert test()[1].startswith("Hello MyApp | Version: v3 |")
    status, _ = api.call(
        "POST", f"/api/v1/applications/myapp/resource/actions?{RO}", raw=b'"abort"'
    )
    assert status == 200
    app = until(
        lambda: (
            (a := api.get("/api/v1/applications/myapp"))["status"]["health"]["status"] == "Degraded"
            and a
        )
    )
    assert rollout_health(app) == {
        "status": "Degraded",
        "message": "RolloutAborted: Rollout aborted update to revision 4",
    }
    assert prod()[1].startswith("Hello MyApp | Version: v1 |")
    until(lambda: test()[0] == 503, what="test host stops after the abort delay")
    assert test() == (503, "no available server")
    assert prod()[1].startswith("Hello MyApp | Version: v1 |")
    info = api.get(INFO)
    assert info["replicaSets"][0]["status"] == "ScaledDown" and info["replicaSets"][0]["preview"]
    assert (info["status"], info["message"]) == (
        "Degraded",
        "RolloutAborted: Rollout aborted update to revision 4",
    )
    assert info.get("updated", 0) == 0
