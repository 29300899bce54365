"""The simulated cluster: Services switched by the controller, routing by Host, the tree."""

from __future__ import annotations

import copy
from typing import Any

from sandbox_helpers import GUIDE_ROLLOUT

from gitops_release.sandbox.clock import Clock
from gitops_release.sandbox.cluster import Cluster
from gitops_release.sandbox.replicaset import Timing

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "bluegreen-active"},
    "spec": {"selector": {"app": "myapp"}, "ports": [{"port": 80}]},
}
INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": "web"},
    "spec": {
        "rules": [
            {
                "host": "www.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {"name": "bluegreen-active", "port": {"number": 80}}
                            },
                        }
                    ]
                },
            }
        ]
    },
}


def settle(cluster: Cluster, clock: Clock, seconds: int) -> None:
    for _ in range(seconds):
        cluster.reconcile()
        clock.advance(1)
    cluster.reconcile()


def test_plain_ingress_and_service_selector_follow_the_active_replicaset() -> None:
    clock = Clock(scale=1e9)
    failing: dict[str, str] = {}
    cluster = Cluster(clock, Timing(), failing.get)
    for obj in (GUIDE_ROLLOUT, SERVICE, INGRESS):
        assert cluster.apply(copy.deepcopy(obj), namespace="default", app="myapp") == "created"
    assert cluster.apply(copy.deepcopy(SERVICE), namespace="default", app="myapp") == "unchanged"
    rs, matched = cluster.route("www.example.com:8080")
    assert matched and rs is not None and rs.ready_pods(clock.seconds(), cluster.timing) == []
    settle(cluster, clock, 10)
    rs, matched = cluster.route("WWW.example.com")
    assert rs is not None and len(rs.ready_pods(clock.seconds(), cluster.timing)) == 2
    service: Any = cluster.live_object(("", "Service", "default", "bluegreen-active"))
    assert service["spec"]["selector"] == {"app": "myapp", "rollouts-pod-template-hash": rs.hash}
    assert cluster.route("nope.example.com") == (None, False)
    kinds = [n["kind"] for n in cluster.tree_nodes("myapp")]
    assert kinds.count("Pod") == 2 and kinds.count("ReplicaSet") == 1 and "Ingress" in kinds
    pod = next(n for n in cluster.tree_nodes("myapp") if n["kind"] == "Pod")
    assert pod["parentRefs"][0]["kind"] == "ReplicaSet" and pod["health"] == {"status": "Healthy"}
    assert {"name": "Containers", "value": "1/1"} in pod["info"]
