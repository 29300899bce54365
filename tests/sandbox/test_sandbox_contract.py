"""Contract: every body the sandbox answers validates against the official swagger definition
for that path, verb and status (with the wire-form exceptions of DESIGN.md section 4), and every
route it serves exists in the spec."""

from __future__ import annotations

import copy
import http.client
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML
from sandbox_helpers import ARGOCD, ROLLOUTS, GitOpsRepo, Http, application, until

from gitops_release.sandbox.server import ApiHandler, Sandbox
from tests.conftest import DATA

WIRE_STRING = {"v1Time", "v1MicroTime", "k8s.io.apimachinery.pkg.apis.meta.v1.Time"}
WIRE_INT_OR_STRING = {"intstrIntOrString", "k8s.io.apimachinery.pkg.util.intstr.IntOrString"}
WIRE_QUANTITY = {"k8s.io.apimachinery.pkg.api.resource.Quantity", "resourceQuantity"}
RO = "namespace=default&resourceName=bluegreen-rollout&group=argoproj.io&kind=Rollout&version=v1alpha1"


def _wire(node: Any) -> Any:
    """Swagger (protobuf-generated) -> the JSON on the wire: int64 as number (or string), and
    strict objects (an unknown key is a misspelt field)."""
    if isinstance(node, dict):
        out = {k: _wire(v) for k, v in node.items()}
        if out.get("type") == "string" and out.get("format") in ("int64", "uint64"):
            out = {"type": ["integer", "string"]}
        if (
            out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_wire(v) for v in node]
    return node


def _flatten_all_of(defs: dict[str, Any]) -> dict[str, Any]:
    """Embedded Go structs (``allOf: [$ref]``) become one object, so strictness still holds."""
    out = copy.deepcopy(defs)
    for schema in out.values():
        for part in schema.pop("allOf", []):
            ref = defs[part["$ref"].rsplit("/", 1)[1]]
            schema.setdefault("properties", {}).update(ref.get("properties", {}))
    return out


def wire_definitions(spec: dict[str, Any]) -> dict[str, Any]:
    defs = _wire(_flatten_all_of(spec["definitions"]))
    for name in defs:
        if name in WIRE_STRING:
            defs[name] = {"type": "string", "format": "date-time"}
        elif name in WIRE_INT_OR_STRING:
            defs[name] = {"type": ["integer", "string"]}
        elif name in WIRE_QUANTITY:
            defs[name] = {"type": ["string", "number"]}
    return defs


DEFS = {"argocd": wire_definitions(ARGOCD), "rollouts": wire_definitions(ROLLOUTS)}


def validate(api: str, path: str, verb: str, status: int, body: Any) -> None:
    spec = ARGOCD if api == "argocd" else ROLLOUTS
    responses = spec["paths"][path][verb.lower()]["responses"]
    schema = (responses.get(str(status)) or responses["default"])["schema"]
    root = {"definitions": DEFS[api], **_wire(copy.deepcopy(schema))}
    jsonschema.Draft4Validator(root).validate(body)  # the schema itself is checked once, below


@pytest.fixture
def deployed(sandbox: Sandbox, tmp_path: Path) -> tuple[Sandbox, Http]:
    """myapp at v2, paused in BlueGreenPause (revision 1 stable, revision 2 preview)."""
    api = Http(sandbox.argocd_url, sandbox.token)
    repo = GitOpsRepo(tmp_path / "repo", sandbox.repo_url("contract"), sandbox.git_env())
    assert api.call("POST", "/api/v1/applications", application(repo.url))[0] == 200
    until(lambda: api.get("/api/v1/applications/myapp")["status"]["health"]["status"] == "Healthy")
    repo.set_image("v2")
    api.get("/api/v1/applications/myapp?refresh=normal")
    until(
        lambda: api.get("/api/v1/applications/myapp")["status"]["health"]["status"] == "Suspended"
    )
    return sandbox, api


ARGOCD_OK = [
    ("GET", "/api/version", "/api/version", None),
    ("GET", "/api/v1/session/userinfo", "/api/v1/session/userinfo", None),
    ("GET", "/api/v1/applications", "/api/v1/applications", None),
    ("GET", "/api/v1/applications/myapp", "/api/v1/applications/{name}", None),
    ("GET", "/api/v1/applications/myapp?refresh=hard", "/api/v1/applications/{name}", None),
    (
        "GET",
        "/api/v1/applications/myapp/resource-tree",
        "/api/v1/applications/{applicationName}/resource-tree",
        None,
    ),
    (
        "GET",
        "/api/v1/applications/myapp/managed-resources",
        "/api/v1/applications/{applicationName}/managed-resources",
        None,
    ),
    (
        "GET",
        f"/api/v1/applications/myapp/resource?{RO}",
        "/api/v1/applications/{name}/resource",
        None,
    ),
    (
        "GET",
        f"/api/v1/applications/myapp/resource/actions?{RO}",
        "/api/v1/applications/{name}/resource/actions",
        None,
    ),
    (
        "POST",
        f"/api/v1/applications/myapp/resource/actions?{RO}",
        "/api/v1/applications/{name}/resource/actions",
        "restart",
    ),
]


def test_argocd_responses_match_the_spec(deployed: tuple[Sandbox, Http]) -> None:
    sb, api = deployed
    for verb, path, template, body in ARGOCD_OK:
        status, answer = api.call(verb, path, body)
        assert status == 200, (path, answer)
        validate("argocd", template, verb, status, answer)
    app = api.get("/api/v1/applications/myapp")
    assert app["status"]["history"][0]["id"] == 0  # int64 on the wire: a number
    sha = app["status"]["sync"]["revision"]
    meta = api.get(f"/api/v1/applications/myapp/revisions/{sha}/metadata")
    assert meta["message"] == "update v2" and meta["author"] == "Test Author <author@example.com>"
    validate(
        "argocd", "/api/v1/applications/{name}/revisions/{revision}/metadata", "GET", 200, meta
    )
    assert isinstance(app["metadata"]["generation"], int)
    # v2 actions, session, sync, terminate, rollback (auto-sync off), delete
    v2 = {
        "namespace": "default",
        "resourceName": "bluegreen-rollout",
        "version": "v1alpha1",
        "group": "argoproj.io",
        "kind": "Rollout",
        "action": "resume",
    }
    status, answer = api.call("POST", "/api/v1/applications/myapp/resource/actions/v2", v2)
    assert (status, answer) == (200, {})
    validate("argocd", "/api/v1/applications/{name}/resource/actions/v2", "POST", 200, answer)
    status, answer = Http(sb.argocd_url).call(
        "POST", "/api/v1/session", {"username": "admin", "password": sb.admin_password}
    )
    validate("argocd", "/api/v1/session", "POST", status, answer)
    assert status == 200 and Http(sb.argocd_url, answer["token"]).get("/api/v1/applications")
    current = api.get("/api/v1/applications/myapp")
    labelled = {"metadata": {"name": "myapp", "labels": {"team": "web"}}, "spec": current["spec"]}
    status, answer = api.call("PUT", "/api/v1/applications/myapp", labelled)
    assert status == 200 and answer["metadata"]["labels"] == {"team": "web"}
    validate("argocd", "/api/v1/applications/{application.metadata.name}", "PUT", status, answer)
    assert [
        a["metadata"]["name"] for a in api.get("/api/v1/applications?selector=team%3Dweb")["items"]
    ] == ["myapp"]
    assert api.get("/api/v1/applications?selector=team%3Dother")["items"] == []
    spec = api.get("/api/v1/applications/myapp")["spec"]
    spec.pop("syncPolicy")
    status, answer = api.call(
        "POST", "/api/v1/applications?upsert=true", {"metadata": {"name": "myapp"}, "spec": spec}
    )
    validate("argocd", "/api/v1/applications", "POST", status, answer)
    until(lambda: "operation" not in api.get("/api/v1/applications/myapp"))
    status, answer = api.call(
        "POST", "/api/v1/applications/myapp/sync", {"prune": False, "dryRun": True}
    )
    assert status == 200
    validate("argocd", "/api/v1/applications/{name}/sync", "POST", status, answer)
    assert answer["operation"]["sync"]["dryRun"] is True
    sb.hold_operation("myapp", 600)  # keep it Running long enough to terminate it
    status, answer = api.call("DELETE", "/api/v1/applications/myapp/operation")
    assert (status, answer) == (200, {})
    validate("argocd", "/api/v1/applications/{name}/operation", "DELETE", status, answer)
    until(lambda: "operation" not in api.get("/api/v1/applications/myapp"))
    state = api.get("/api/v1/applications/myapp")["status"]["operationState"]
    assert (state["phase"], state["message"]) == ("Failed", "Operation terminated")
    status, answer = api.call("POST", "/api/v1/applications/myapp/rollback", {"id": 0})
    assert status == 200, answer
    validate("argocd", "/api/v1/applications/{name}/rollback", "POST", status, answer)
    assert answer["operation"]["sync"]["syncStrategy"] == {"apply": {}}
    status, answer = api.call("DELETE", "/api/v1/applications/myapp")
    assert (status, answer) == (200, {})
    validate("argocd", "/api/v1/applications/{name}", "DELETE", status, answer)
    assert api.call("GET", "/api/v1/applications/myapp")[0] == 403


def test_argocd_errors_are_the_real_ones(deployed: tuple[Sandbox, Http]) -> None:
    sb, api = deployed
    cases = [
        (
            Http(sb.argocd_url),
            "GET",
            "/api/v1/applications",
            None,
            401,
            16,
            "no session information",
        ),
        (
            Http(sb.argocd_url, "x.y.z"),
            "GET",
            "/api/v1/applications",
            None,
            401,
            16,
            "invalid session: token signature is invalid: signature is invalid",
        ),
        (
            Http(sb.argocd_url),
            "POST",
            "/api/v1/session",
            {"username": "admin", "password": "nope"},
            401,
            16,
            "Invalid username or password",
        ),
        (api, "GET", "/api/v1/applications/nope", None, 403, 7, "permission denied"),
        (
            api,
            "GET",
            "/api/v1/applications/nope?project=default",
            None,
            404,
            5,
            'applications.argoproj.io "nope" not found',
        ),
        (
            api,
            "POST",
            "/api/v1/applications/myapp/rollback",
            {"id": 0},
            400,
            9,
            "rollback cannot be initiated when auto-sync is enabled",
        ),
        (
            api,
            "POST",
            "/api/v1/applications/myapp/sync",
            {"revision": "0" * 40},
            400,
            9,
            f"Cannot sync to {'0' * 40}: auto-sync currently set to main",
        ),
        (
            api,
            "DELETE",
            "/api/v1/applications/myapp/operation",
            None,
            400,
            3,
            "Unable to terminate operation. No operation is in progress",
        ),
        (
            api,
            "GET",
            "/api/v1/applications/myapp/resource?namespace=default&resourceName=x&group=argoproj.io&kind=Rollout&version=v1alpha1",
            None,
            400,
            3,
            "Rollout argoproj.io x not found as part of application myapp",
        ),
        (
            api,
            "POST",
            "/api/v1/applications",
            {
                "metadata": {"name": "myapp"},
                "spec": {"project": "other", "source": {"repoURL": "x"}},
            },
            400,
            3,
            "existing application spec is different, use upsert flag to force update",
        ),
    ]
    for client, verb, path, body, status, code, message in cases:
        got_status, answer = client.call(verb, path, body)
        assert (got_status, answer) == (
            status,
            {"error": message, "code": code, "message": message},
        ), path
        validate(
            "argocd",
            urllib.parse.urlsplit(path)
            .path.replace("/nope", "/{name}")
            .replace("/myapp", "/{name}"),
            verb,
            status,
            answer,
        )
    sb.hold_operation("myapp", 60)
    status, answer = api.call("POST", "/api/v1/applications/myapp/sync", {})
    assert (status, answer["code"], answer["message"]) == (
        400,
        9,
        "another operation is already in progress",
    )
    # unknown routes: grpc-gateway's plain-text 404 / 405
    assert api.call("GET", "/api/v1/nothing") == (404, "Not Found\n")
    assert api.call("PUT", "/api/v1/session") == (405, "Method Not Allowed\n")


def _first_line(sb: Sandbox, path: str, headers: dict[str, str]) -> tuple[str, bytes]:
    url = urllib.parse.urlsplit(sb.argocd_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        assert resp.status == 200
        return resp.getheader(
            "Content-Type", ""
        ), resp.readline() if "event-stream" not in resp.getheader(
            "Content-Type", ""
        ) else resp.readline() + resp.readline()
    finally:
        conn.close()


def test_watch_streams_json_lines_and_sse(deployed: tuple[Sandbox, Http]) -> None:
    sb, _ = deployed
    auth = {"Authorization": f"Bearer {sb.token}"}
    ctype, line = _first_line(sb, "/api/v1/stream/applications?name=myapp", auth)
    assert ctype == "application/json"
    event = json.loads(line)
    assert event["result"]["type"] == "ADDED"
    validate("argocd", "/api/v1/stream/applications", "GET", 200, event)
    ctype, frame = _first_line(
        sb, "/api/v1/stream/applications?name=myapp", {**auth, "Accept": "text/event-stream"}
    )
    assert ctype == "text/event-stream"
    assert frame.startswith(b"data: {") and frame.endswith(b" \n\n")
    validate("argocd", "/api/v1/stream/applications", "GET", 200, json.loads(frame[6:]))
    _, line = _first_line(sb, "/api/v1/stream/applications/myapp/resource-tree", auth)
    tree = json.loads(line)
    assert {n["kind"] for n in tree["result"]["nodes"]} >= {
        "Rollout",
        "ReplicaSet",
        "Pod",
        "Service",
    }
    validate(
        "argocd", "/api/v1/stream/applications/{applicationName}/resource-tree", "GET", 200, tree
    )
    fields = "result.type,result.application.metadata.name,result.application.status.health"
    _, line = _first_line(sb, f"/api/v1/stream/applications?name=myapp&fields={fields}", auth)
    event = json.loads(line)
    assert event["result"]["type"] == "ADDED"
    assert event["result"]["application"].keys() == {"metadata", "status"}
    assert event["result"]["application"]["metadata"] == {"name": "myapp"}
    assert event["result"]["application"]["status"].keys() == {"health"}
    _, line = _first_line(
        sb, "/api/v1/stream/applications?name=myapp&fields=-result.application.status", auth
    )
    assert "status" not in json.loads(line)["result"]["application"]
    ctype, line = _first_line(
        sb, "/rollouts/api/v1/rollouts/default/bluegreen-rollout/info/watch", {}
    )
    validate(
        "rollouts", "/api/v1/rollouts/{namespace}/{name}/info/watch", "GET", 200, json.loads(line)
    )
    ctype, line = _first_line(sb, "/rollouts/api/v1/rollouts/default/info/watch", {})
    event = json.loads(line)
    assert event["result"]["type"] == "Updated"
    validate("rollouts", "/api/v1/rollouts/{namespace}/info/watch", "GET", 200, event)


def test_rollouts_dashboard_matches_the_spec(deployed: tuple[Sandbox, Http]) -> None:
    sb, _ = deployed
    dash = Http(sb.rollouts_url + "/rollouts")
    for verb, path, template, body in [
        ("GET", "/api/v1/version", "/api/v1/version", None),
        ("GET", "/api/v1/namespace", "/api/v1/namespace", None),
        ("GET", "/api/v1/rollouts/default/info", "/api/v1/rollouts/{namespace}/info", None),
        (
            "GET",
            "/api/v1/rollouts/default/bluegreen-rollout/info",
            "/api/v1/rollouts/{namespace}/{name}/info",
            None,
        ),
        (
            "PUT",
            "/api/v1/rollouts/default/bluegreen-rollout/abort",
            "/api/v1/rollouts/{namespace}/{name}/abort",
            {},
        ),
        (
            "PUT",
            "/api/v1/rollouts/default/bluegreen-rollout/retry",
            "/api/v1/rollouts/{namespace}/{name}/retry",
            {},
        ),
        (
            "PUT",
            "/api/v1/rollouts/default/bluegreen-rollout/promote",
            "/api/v1/rollouts/{namespace}/{name}/promote",
            {"full": True},
        ),
        (
            "PUT",
            "/api/v1/rollouts/default/bluegreen-rollout/restart",
            "/api/v1/rollouts/{namespace}/{name}/restart",
            {},
        ),
    ]:
        status, answer = dash.call(verb, path, body)
        assert status == 200, (path, answer)
        validate("rollouts", template, verb, status, answer)
    info = dash.get("/api/v1/rollouts/default/bluegreen-rollout/info")
    assert isinstance(info["replicaSets"][0]["revision"], int)
    status, answer = dash.call("GET", "/api/v1/rollouts/default/nope/info")
    assert (status, answer) == (
        500,
        {"code": 2, "message": 'rollouts.argoproj.io "nope" not found'},
    )
    validate("rollouts", "/api/v1/rollouts/{namespace}/{name}/info", "GET", 500, answer)
    assert dash.call("GET", "/api/v1/nothing") == (501, {"code": 12, "message": "Not Implemented"})


def test_undo_applies_then_never_answers(deployed: tuple[Sandbox, Http]) -> None:
    sb, api = deployed
    until(
        lambda: (
            Http(sb.rollouts_url).get("/rollouts/api/v1/rollouts/default/bluegreen-rollout/info")[
                "status"
            ]
            == "Paused"
        )
    )
    with pytest.raises(TimeoutError):
        Http(sb.rollouts_url).call(
            "PUT", "/rollouts/api/v1/rollouts/default/bluegreen-rollout/undo/1", {}, timeout=0.5
        )
    live = json.loads(api.get(f"/api/v1/applications/myapp/resource?{RO}")["manifest"])
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "ikubernetes/myapp:v1"
    until(lambda: api.get("/api/v1/applications/myapp")["status"]["sync"]["status"] == "OutOfSync")


def test_live_rollout_validates_against_the_crd(deployed: tuple[Sandbox, Http]) -> None:
    _, api = deployed
    live = json.loads(api.get(f"/api/v1/applications/myapp/resource?{RO}")["manifest"])
    crd = YAML(typ="safe", pure=True).load((DATA / "specs" / "rollout-crd.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]

    def k8s(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: k8s(v) for k, v in node.items() if not k.startswith("x-kubernetes")}
            if node.get("format") == "int-or-string" or "anyOf" in node:
                return {}
            return node
        return [k8s(v) for v in node] if isinstance(node, list) else node

    jsonschema.Draft7Validator(k8s(schema)).validate(live)
    assert live["status"]["phase"] == "Paused" and live["status"]["observedGeneration"] == str(
        live["metadata"]["generation"]
    )


def test_wire_definitions_are_valid_schemas() -> None:
    for api in ("argocd", "rollouts"):
        jsonschema.Draft4Validator.check_schema({"definitions": DEFS[api]})


def test_every_served_route_is_in_the_spec() -> None:
    def norm(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path)

    argocd = {(v.upper(), norm(p)) for p, ops in ARGOCD["paths"].items() for v in ops}
    rollouts = {
        (v.upper(), norm("/rollouts" + p)) for p, ops in ROLLOUTS["paths"].items() for v in ops
    }
    served = {
        (verb, norm(template))
        for verb, _, _, template in ApiHandler.routes
        if not template.startswith("/sandbox/")
    }
    assert served - argocd - rollouts == set()
    assert len(served) >= 25
