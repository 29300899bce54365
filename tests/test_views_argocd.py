"""The status view built from Argo CD's wire shapes (Application, resource tree, live Rollout,
ReplicaSets, IngressRoutes) renders the same golden text as the guide's paused state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from gitops_release.argo import client as argocd
from gitops_release.argo import http
from gitops_release.views import gather as observe
from gitops_release.views import render as views
from tests.fake_http import FakeServer, Request
from tests.status_data import GOLDEN, NOW, RS1, RS2, V1, V2, ago, later

NS = "default"


def node(
    kind: str, name: str, uid: str, parent: str | None, created: int, **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "group": {"Rollout": "argoproj.io", "ReplicaSet": "apps"}.get(kind, ""),
        "version": {"Rollout": "v1alpha1"}.get(kind, "v1"),
        "kind": kind,
        "namespace": NS,
        "name": name,
        "uid": uid,
        "createdAt": ago(created),
        "health": {"status": "Healthy"},
    }
    if parent:
        data["parentRefs"] = [{"group": "", "kind": "", "namespace": NS, "name": "", "uid": parent}]
    data.update(extra)
    return data


def pod(name: str, parent: str, created: int) -> dict[str, Any]:
    info = [
        {"name": "Status Reason", "value": "Running"},
        {"name": "Node", "value": "kind"},
        {"name": "Containers", "value": "1/1"},
    ]
    return node("Pod", name, name, parent, created, info=info)


TREE = {
    "nodes": [
        node(
            "Rollout",
            "bluegreen-rollout",
            "ro",
            None,
            177,
            health={"status": "Suspended", "message": "BlueGreenPause"},
        ),
        node(
            "ReplicaSet",
            RS2,
            "rs2",
            "ro",
            48,
            info=[{"name": "Revision", "value": "Rev:2"}],
            images=[V2],
        ),
        node(
            "ReplicaSet",
            RS1,
            "rs1",
            "ro",
            177,
            info=[{"name": "Revision", "value": "Rev:1"}],
            images=[V1],
        ),
        pod(f"{RS2}-wcbrs", "rs2", 48),
        pod(f"{RS1}-b5z9x", "rs1", 177),
        pod(f"{RS1}-b4cqq", "rs1", 177),
    ]
}

ROLLOUT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {
        "name": "bluegreen-rollout",
        "namespace": NS,
        "generation": 2,
        "creationTimestamp": ago(177),
    },
    "spec": {
        "replicas": 2,
        "strategy": {
            "blueGreen": {
                "activeService": "bluegreen-active",
                "previewService": "bluegreen-preview",
                "autoPromotionEnabled": False,
                "previewReplicaCount": 1,
            }
        },
        "template": {"spec": {"containers": [{"name": "myapp", "image": V2}]}},
    },
    "status": {
        "observedGeneration": "2",
        "phase": "Paused",
        "message": "BlueGreenPause",
        "pauseConditions": [{"reason": "BlueGreenPause", "startTime": ago(40)}],
        "controllerPause": True,
        "currentPodHash": "95d95c65",
        "stableRS": "69dc9f5f56",
        "blueGreen": {"activeSelector": "69dc9f5f56", "previewSelector": "95d95c65"},
        "replicas": 3,
        "updatedReplicas": 1,
        "readyReplicas": 2,
        "availableReplicas": 2,
    },
}


def replica_set(
    name: str,
    hash_: str,
    revision: int,
    replicas: int,
    image: str,
    created: int,
    deadline: str = "",
) -> dict[str, Any]:
    annotations = {"rollout.argoproj.io/revision": str(revision)}
    if deadline:
        annotations["argo-rollouts.argoproj.io/scale-down-deadline"] = deadline
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "creationTimestamp": ago(created),
            "labels": {"rollouts-pod-template-hash": hash_},
            "annotations": annotations,
        },
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "myapp", "image": image}]}},
        },
        "status": {"replicas": replicas, "availableReplicas": replicas, "readyReplicas": replicas},
    }


SETS = {
    RS1: replica_set(RS1, "69dc9f5f56", 1, 2, V1, 177),
    RS2: replica_set(RS2, "95d95c65", 2, 1, V2, 48),
}


def ingress(name: str, host: str, service: str) -> dict[str, Any]:
    return {
        "kind": "IngressRoute",
        "metadata": {"name": name},
        "spec": {
            "entryPoints": ["web"],
            "routes": [
                {
                    "match": f"Host(`{host}`)",
                    "kind": "Rule",
                    "services": [{"name": service, "port": 80}],
                }
            ],
        },
    }


APP = {
    "metadata": {"name": "myapp", "namespace": "argocd"},
    "spec": {
        "source": {
            "repoURL": "https://git.example.com/argo-demo.git",
            "path": "myapp",
            "targetRevision": "main",
        },
        "destination": {"namespace": NS},
    },
    "status": {
        "sync": {"status": "Synced", "revision": "ec834405a1b2c3d4e5f60718293a4b5c6d7e8f90"},
        "health": {"status": "Suspended"},
        "reconciledAt": ago(5),
        "resources": [
            {
                "group": "argoproj.io",
                "version": "v1alpha1",
                "kind": "Rollout",
                "namespace": NS,
                "name": "bluegreen-rollout",
                "status": "Synced",
                "health": {"status": "Suspended", "message": "BlueGreenPause"},
            },
            {
                "group": "traefik.io",
                "version": "v1alpha1",
                "kind": "IngressRoute",
                "namespace": NS,
                "name": "myapp-prod",
                "status": "Synced",
            },
            {
                "group": "traefik.io",
                "version": "v1alpha1",
                "kind": "IngressRoute",
                "namespace": NS,
                "name": "myapp-test",
                "status": "Synced",
            },
        ],
    },
}


RUNS: dict[str, dict[str, Any]] = {}


@pytest.fixture
def api() -> Iterator[argocd.ArgoCD]:
    server = FakeServer()
    base = "/api/v1/applications/myapp"
    server.routes[("GET", base)] = lambda r: (200, APP)
    server.routes[("GET", base + "/resource-tree")] = lambda r: (200, TREE)

    def resource(r: Request) -> tuple[Any, ...]:
        kind, name = r.query["kind"][0], r.query["resourceName"][0]
        obj = {
            "Rollout": ROLLOUT,
            "ReplicaSet": SETS.get(name),
            "AnalysisRun": RUNS.get(name),
            "IngressRoute": ingress(name, "prod.myapp.com", "bluegreen-active")
            if name == "myapp-prod"
            else ingress(name, "test.myapp.com", "bluegreen-preview"),
        }[kind]
        return (200, {"manifest": json.dumps(obj)})

    server.routes[("GET", base + "/resource")] = resource
    server.start()
    yield argocd.ArgoCD(http.Client(server.url, token="t"))
    server.stop()


def test_paused_state_from_argocd_shapes_matches_the_golden_tree(api: argocd.ArgoCD) -> None:
    _, view = observe.app_view(api, "myapp")
    assert view.rollout is not None
    assert views.render_rollout(view.rollout, NOW) == (GOLDEN / "paused.txt").read_text(
        encoding="utf-8"
    )
    assert (view.prod_url, view.preview_url) == ("http://prod.myapp.com", "http://test.myapp.com")
    assert (view.sync, view.health, view.revision[:7]) == ("Synced", "Suspended", "ec83440")


def test_scale_down_deadline_annotation_becomes_the_delay_tag(api: argocd.ArgoCD) -> None:
    SETS[RS1] = replica_set(RS1, "69dc9f5f56", 1, 2, V1, 177, deadline=later(29))
    try:
        _, view = observe.app_view(api, "myapp")
    finally:
        SETS[RS1] = replica_set(RS1, "69dc9f5f56", 1, 2, V1, 177)
    assert view.rollout is not None
    assert "stable,active,delay:29s\n" in views.render_rollout(view.rollout, NOW)


def analysis_run(name: str, created: int) -> dict[str, Any]:
    """A pre-promotion AnalysisRun as the resource endpoint returns it (two of three
    measurements taken)."""
    measurement = {"phase": "Successful", "value": "[0.002]", "finishedAt": ago(10)}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": name,
            "namespace": NS,
            "creationTimestamp": ago(created),
            "labels": {"rollout-type": "PrePromotion"},
            "annotations": {"rollout.argoproj.io/revision": "2"},
        },
        "spec": {
            "metrics": [
                {
                    "name": "error-rate",
                    "count": 3,
                    "interval": "10s",
                    "successCondition": "result[0] < 0.01",
                    "provider": {"prometheus": {"query": "sum(rate(x[1m]))"}},
                }
            ]
        },
        "status": {
            "phase": "Running",
            "metricResults": [
                {
                    "name": "error-rate",
                    "phase": "Running",
                    "count": 2,
                    "successful": 2,
                    "measurements": [{**measurement, "value": "[0.004]"}, measurement],
                }
            ],
        },
    }


def test_analysis_run_under_its_revision_and_in_json(api: argocd.ArgoCD) -> None:
    """An AnalysisRun child of the Rollout is read live and drawn under revision 2, as
    ``kubectl argo rollouts get`` draws it; the JSON carries each metric's last measurement."""
    run_name = f"{RS2}-2-pre"
    TREE["nodes"].append(
        node("AnalysisRun", run_name, "ar", "ro", 40, group="argoproj.io", version="v1alpha1")
    )
    RUNS[run_name] = analysis_run(run_name, 40)
    try:
        _, view = observe.app_view(api, "myapp")
    finally:
        TREE["nodes"].pop()
        RUNS.clear()
    assert view.rollout is not None
    assert views.render_rollout(view.rollout, NOW) == (GOLDEN / "analysis-running.txt").read_text(
        encoding="utf-8"
    )
    (run,) = views.status_json(view)["rollout"]["analysis_runs"]
    assert (run["kind"], run["status"], run["successful"]) == ("PrePromotion", "Running", 2)
    (metric,) = run["metrics"]
    assert metric["last_value"] == "[0.002]"
    assert (metric["measured"], metric["count"]) == (2, 3)
    assert metric["success_condition"] == "result[0] < 0.01"


def test_dashboard_rollout_info_analysis_runs() -> None:
    """``--via dashboard``: RolloutInfo's ``analysisRuns`` (objectMeta, revision, specAndStatus)
    give the same rows."""
    run = analysis_run(f"{RS2}-2-pre", 40)
    info = {
        "objectMeta": {"name": "bluegreen-rollout", "namespace": NS},
        "analysisRuns": [
            {
                "objectMeta": run["metadata"],
                "revision": 2,
                "status": "Running",
                "specAndStatus": {"spec": run["spec"], "status": run["status"]},
            }
        ],
    }
    view = observe.rollout_view_from_info(info)
    (got,) = view.analysis_runs
    assert (got.name, got.revision, got.status, got.successful) == (
        run["metadata"]["name"],
        2,
        "Running",
        2,
    )
    assert got.metrics[0].last_value == "[0.002]"
    assert "AnalysisRun  ◌ Running" in views.render_rollout(view, NOW)
