"""``kubectl create --dry-run=client -o yaml`` of a scaffolded app, against a discovery stub.

A client-side dry run still asks the server which resources it serves (discovery) to map each
kind; without a server it fails. The stub here, on 127.0.0.1, answers only discovery, for the
resources a Traefik v3 + Argo Rollouts cluster serves (so a wrong ``apiVersion`` or kind is
refused as it would be there) and nothing else: no OpenAPI, hence ``--validate=false`` (the CRD
schemas are checked in tests/test_scaffold.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gitops_release.cli import main
from tests.conftest import GitRemote
from tests.render.conftest import Tool, container_images, objects

# group/version -> (resource, kind, namespaced)
SERVED = {
    "v1": [("services", "Service", True), ("configmaps", "ConfigMap", True)],
    "apps/v1": [("deployments", "Deployment", True)],
    "argoproj.io/v1alpha1": [("rollouts", "Rollout", True)],
    "traefik.io/v1alpha1": [("ingressroutes", "IngressRoute", True)],
}


def _discovery(path: str) -> dict[str, object] | None:
    """The legacy discovery documents (the stub never offers the aggregated kind)."""
    groups = [gv for gv in SERVED if "/" in gv]
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": gv.split("/")[0],
                    "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                    "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]},
                }
                for gv in groups
            ],
        }
    gv = "v1" if path == "/api/v1" else path.removeprefix("/apis/")
    if gv not in SERVED:
        return None
    resources = [
        {"name": name, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind}
        | {"verbs": ["create", "get", "list"]}
        for name, kind, namespaced in SERVED[gv]
    ]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv} | {
        "resources": resources
    }


class _Discovery(BaseHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.requests.append(f"GET {path}")
        body = _discovery(path)
        status = 200 if body is not None else 404
        data = json.dumps(body or {"kind": "Status", "code": 404}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self.requests.append(f"POST {self.path}")  # a client-side dry run must never send one
        self.send_error(405)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A kubeconfig pointing at the discovery stub, and the requests the stub answered."""
    requests: list[str] = []
    handler = type("Handler", (_Discovery,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "stub",
                        "cluster": {"server": f"http://127.0.0.1:{server.server_port}"},
                    }
                ],
                "contexts": [{"name": "stub", "context": {"cluster": "stub", "namespace": "shop"}}],
                "current-context": "stub",
                "users": [],
            }
        )
    )
    try:
        yield kubeconfig, requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


SCAFFOLD = [
    *("scaffold", "myapp", "--image", "registry.example.com/team/myapp:1.4.2"),
    *("--prod-host", "prod.myapp.com", "--preview-host", "test.myapp.com"),
]


DRY_RUN = ("create", "--dry-run=client", "-o", "yaml", "--validate=false")


def _dry_run(kubectl: Tool, kubeconfig: Path, *source: str | Path) -> str:
    return kubectl.output(*DRY_RUN, "--kubeconfig", kubeconfig, *source)


def _without_namespace(obj: dict[str, object]) -> dict[str, object]:
    assert isinstance(obj["metadata"], dict)
    meta = dict(obj["metadata"])
    assert meta.pop("namespace") == "shop"  # kubectl sets the context's namespace
    return obj | {"metadata": meta}


def test_dry_run_create_maps_every_scaffolded_object_to_a_served_resource(
    kubectl: Tool,
    git_remote: GitRemote,
    cluster: tuple[Path, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    kubeconfig, requests = cluster
    checkout = git_remote.checkout
    assert main([*SCAFFOLD, "--repo-dir", str(checkout)]) == 0, capsys.readouterr().err
    app = checkout / "myapp"
    written = [obj for name in sorted(app.glob("*.yaml")) for obj in objects(name.read_text())]

    created = objects(_dry_run(kubectl, kubeconfig, "-f", app))

    def key(obj: dict[str, object]) -> str:
        return json.dumps(obj, sort_keys=True)

    assert sorted(map(key, map(_without_namespace, created))) == sorted(map(key, written))
    assert len(written) == 5
    assert "GET /apis" in requests
    assert not [r for r in requests if not r.startswith("GET ")]


def test_dry_run_create_of_the_kustomization_after_bump_image(
    kubectl: Tool,
    git_remote: GitRemote,
    cluster: tuple[Path, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    kubeconfig, _ = cluster
    checkout = git_remote.checkout
    assert main([*SCAFFOLD, "--kustomize", "--repo-dir", str(checkout), "--commit", "--push"]) == 0
    bump = ["bump-image", "1.5.0", "--app", "myapp", "--repo", str(checkout)]
    assert main(bump) == 0, capsys.readouterr().err

    created = _dry_run(kubectl, kubeconfig, "-k", checkout / "myapp")

    assert len(objects(created)) == 5
    assert container_images(created) == {
        "Rollout/myapp/myapp": "registry.example.com/team/myapp:1.5.0"
    }


def test_a_kind_the_cluster_does_not_serve_is_refused(
    kubectl: Tool, tmp_path: Path, cluster: tuple[Path, list[str]]
) -> None:
    kubeconfig, _ = cluster
    old = tmp_path / "ingressroute.yaml"
    old.write_text(
        "apiVersion: traefik.containo.us/v1alpha1\nkind: IngressRoute\nmetadata:\n  name: x\n"
    )  # the Traefik v2 group, gone from a v3 cluster

    done = kubectl.run(*DRY_RUN, "--kubeconfig", kubeconfig, "-f", old)

    assert done.returncode != 0
    assert 'no matches for kind "IngressRoute" in version "traefik.containo.us/v1alpha1"' in (
        done.stderr
    )
