"""The wait loop on a small fake Argo CD: polling when the server has no stream, a stream that keeps
closing, and the request count of a stream-driven wait."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from gitops_release.argo import client as argocd
from gitops_release.argo import http
from gitops_release.argo.types import Target
from gitops_release.argo.wait import Expect, Waiter
from tests.fake_http import FakeServer, Request


def app_json(health: str, ro_health: str, message: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "resourceVersion": "1"},
        "spec": {"destination": {"namespace": "prod"}, "syncPolicy": {"automated": {}}},
        "status": {
            "sync": {"status": "Synced", "revision": "abc"},
            "health": {"status": health},
            "resources": [
                {
                    "kind": "Rollout",
                    "name": "web",
                    "namespace": "prod",
                    "group": "argoproj.io",
                    "health": {"status": ro_health, "message": message},
                }
            ],
        },
    }


ROLLOUT = {
    "metadata": {"name": "web", "namespace": "prod", "generation": 2},
    "spec": {
        "replicas": 2,
        "strategy": {"blueGreen": {"previewReplicaCount": 1}},
        "template": {"spec": {"containers": [{"name": "web", "image": "app:v2"}]}},
    },
    "status": {
        "observedGeneration": "2",
        "phase": "Paused",
        "message": "BlueGreenPause",
        "pauseConditions": [{"reason": "BlueGreenPause"}],
        "currentPodHash": "h2",
        "stableRS": "h1",
        "blueGreen": {"activeSelector": "h1", "previewSelector": "h2"},
    },
}
RS = {
    "metadata": {
        "name": "web-h2",
        "labels": {"rollouts-pod-template-hash": "h2"},
        "annotations": {"rollout.argoproj.io/revision": "2"},
    },
    "spec": {"replicas": 1, "template": {"spec": {"containers": [{"image": "app:v2"}]}}},
    "status": {"availableReplicas": 1},
}


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    states = [app_json("Progressing", "Progressing", "more replicas need to be updated")] * 3
    states.append(app_json("Suspended", "Suspended", "BlueGreenPause"))

    def get_app(r: Request) -> tuple[Any, ...]:
        return (200, states.pop(0) if len(states) > 1 else states[0])

    def resource(r: Request) -> tuple[Any, ...]:
        obj = ROLLOUT if r.query["kind"] == ["Rollout"] else RS
        return (200, {"manifest": json.dumps(obj)})

    server.routes[("GET", "/api/v1/applications/web")] = get_app
    server.routes[("GET", "/api/v1/applications/web/resource")] = resource
    server.start()
    yield server
    server.stop()


def waiter(server: FakeServer) -> Waiter:
    client = http.Client(server.url, name="Argo CD", token="t", sleep=lambda s: None)
    return Waiter(
        argocd.ArgoCD(client), "web", Target.preview_ready, Expect(), sleep=lambda s: None
    )


def test_no_stream_falls_back_to_polling(fake: FakeServer) -> None:
    outcome = waiter(fake).run(30)
    assert outcome.expect.images == ("app:v2",) and outcome.expect.revision == "abc"
    assert fake.count("GET", "/api/v1/stream") == 1  # tried once: 404 -> polling
    assert [r.path for r in fake.requests].count("/api/v1/applications/web") == 4


def test_a_stream_that_keeps_closing_is_given_up(fake: FakeServer) -> None:
    fake.routes[("GET", "/api/v1/stream/applications")] = lambda r: (200, iter([]))
    waiter(fake).run(30)
    assert fake.count("GET", "/api/v1/stream") == 3


def test_stream_events_drive_the_wait(fake: FakeServer) -> None:
    events = [
        app_json("Progressing", "Progressing"),
        app_json("Suspended", "Suspended", "BlueGreenPause"),
    ]
    fake.routes[("GET", "/api/v1/stream/applications")] = lambda r: (
        200,
        iter(json.dumps({"result": {"type": "MODIFIED", "application": e}}) for e in events),
    )
    outcome = waiter(fake).run(30)
    # refresh GET, one stream, then the live Rollout and the preview ReplicaSet once
    assert outcome.requests == 4
    assert fake.count("GET", "/api/v1/stream") == 1
