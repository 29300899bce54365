"""``status``, ``status -o json``, ``list``, ``wait`` and ``history`` on objects real controllers
wrote (``tests/data/payloads``, see its SOURCES.md), served on 127.0.0.1 in Argo CD's API shapes.

No real Application or resource-tree of an app managing a Rollout was found, so each captured
Rollout is wrapped as Argo CD does it: an Application derived from the captured ~v1.8 one (the
Rollout's ``app.kubernetes.io/instance`` label names it), a resource tree built from the objects'
ownerReferences with Argo CD's node info (``Rev:N``, pod status and readiness), and per-resource
health from the sandbox's port of Argo CD's Rollout health Lua. The live objects are served as
captured."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_release.cli import main
from gitops_release.sandbox.health import resource_health
from tests.conftest import git
from tests.fake_http import FakeServer, Request

PAYLOADS = Path(__file__).parent.parent / "data" / "payloads"
DEMO = PAYLOADS / "rollouts-bluegreen-demo"
OLD = PAYLOADS / "argocd-rollout-objects"
APPS = "/api/v1/applications"


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _group_version(obj: dict[str, Any]) -> tuple[str, str]:
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    return group, version


def tree_node(obj: dict[str, Any]) -> dict[str, Any]:
    """One resource-tree node as Argo CD's controller builds it (``populatePodInfo``,
    ``populateReplicaSetInfo``: the ``info`` entries we read)."""
    meta, kind = obj["metadata"], obj["kind"]
    group, version = _group_version(obj)
    info = []
    if kind == "ReplicaSet":
        info.append(
            {
                "name": "Revision",
                "value": f"Rev:{meta['annotations']['rollout.argoproj.io/revision']}",
            }
        )
    images: list[str] = []
    if kind == "Pod":
        statuses = obj["status"].get("containerStatuses") or []
        ready = sum(1 for c in statuses if c.get("ready"))
        info.append(
            {
                "name": "Status Reason",
                "value": obj["status"].get("reason") or obj["status"]["phase"],
            }
        )
        info.append({"name": "Node", "value": obj["spec"].get("nodeName", "")})
        info.append({"name": "Containers", "value": f"{ready}/{len(obj['spec']['containers'])}"})
        images = [c["image"] for c in obj["spec"]["containers"]]
    node: dict[str, Any] = {
        "group": group, "version": version, "kind": kind,
        "namespace": meta.get("namespace", ""), "name": meta["name"], "uid": meta.get("uid", ""),
        "resourceVersion": meta.get("resourceVersion", ""),
        "createdAt": meta.get("creationTimestamp", ""), "info": info, "images": images,
        "parentRefs": [
            {"group": _group_version(ref)[0], "kind": ref["kind"], "namespace": meta.get("namespace", ""),
             "name": ref["name"], "uid": ref["uid"]}
            for ref in meta.get("ownerReferences") or []
        ],
    }  # fmt: skip
    health = resource_health(kind, group, obj)
    if health:
        node["health"] = health
    return node


def application(name: str, rollout: dict[str, Any]) -> dict[str, Any]:
    """The captured ~v1.8 Application, renamed to manage ``rollout`` (status as Argo CD writes it)."""
    app = copy.deepcopy(load(PAYLOADS / "roadie-guestbook-app.json"))
    namespace = rollout["metadata"]["namespace"]
    health = resource_health("Rollout", "argoproj.io", rollout) or {"status": "Unknown"}
    app["metadata"]["name"] = name
    app["spec"]["destination"]["namespace"] = namespace
    app["status"]["resources"] = [
        {"group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout", "namespace": namespace,
         "name": rollout["metadata"]["name"], "status": "Synced", "health": health},
    ]  # fmt: skip
    app["status"]["health"] = {"status": health["status"]}
    app["status"]["summary"] = {
        "images": [c["image"] for c in rollout["spec"]["template"]["spec"]["containers"]]
    }
    return app


class Payloads:
    """Argo CD's application routes answered from the captured objects."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.apps: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        server.routes[("GET", APPS)] = lambda r: (
            200,
            {"items": [a for a, _ in self.apps.values()]},
        )
        server.routes[("GET", APPS + "/*")] = self.answer

    def add(self, app: dict[str, Any], objects: list[dict[str, Any]]) -> None:
        self.apps[app["metadata"]["name"]] = (app, objects)

    def answer(self, req: Request) -> tuple[Any, ...]:
        name, _, rest = req.path.removeprefix(APPS + "/").partition("/")
        if name not in self.apps:
            return 404, {"code": 5, "message": f'applications.argoproj.io "{name}" not found'}
        app, objects = self.apps[name]
        if not rest:
            return 200, app
        if rest == "resource-tree":
            return 200, {"nodes": [tree_node(o) for o in objects]}
        if rest == "resource":
            q = {k: v[0] for k, v in req.query.items()}
            for obj in objects:
                if (obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace")) == (
                    q["kind"],
                    q["resourceName"],
                    q["namespace"],
                ):
                    return 200, {"manifest": json.dumps(obj)}
            return 404, {"code": 5, "message": f"{q['kind']} {q['resourceName']} not found"}
        return 404, b"Not Found", {"Content-Type": "text/plain"}


def demo_objects() -> list[dict[str, Any]]:
    return [load(p) for p in sorted(DEMO.glob("*.json"))]


@pytest.fixture
def argo(monkeypatch: pytest.MonkeyPatch) -> Iterator[Payloads]:
    server = FakeServer().start()
    payloads = Payloads(server)
    rollout = load(DEMO / "bluegreen-rollout.json")
    payloads.add(application("jesse-canary", rollout), demo_objects())
    for path in sorted(OLD.glob("*.json")):
        obj = load(path)
        payloads.add(application(path.stem.lower().replace("_", "-"), obj), [obj])
    payloads.add(load(PAYLOADS / "roadie-guestbook-app.json"), [])
    monkeypatch.setenv("ARGOCD_SERVER", server.url)
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "token")
    monkeypatch.setenv("GITOPS_RELEASE_HTTP_RETRIES", "0")
    yield payloads
    server.stop()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def without_ages(text: str) -> list[str]:
    """The lines of a Rollout tree with the AGE column cut out (found from its header, since
    the ages set its width) and trailing blanks dropped, as upstream's golden text has none."""
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("NAME "))
    start, end = lines[header].index("AGE"), lines[header].index("INFO")
    return [
        (line[:start] + line[end:] if i >= header else line).rstrip()
        for i, line in enumerate(lines)
    ]


def test_status_of_the_paused_demo_rollout_matches_upstreams_golden_tree(
    argo: Payloads, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "status", "jesse-canary")
    assert code == 0, err
    tree = out[out.index("Name:") :]
    golden = (DEMO / "kubectl-argo-rollouts-get.expected.txt").read_text(encoding="utf-8")
    assert without_ages(tree) == without_ages(golden)
    assert "Status:          ॥ Paused\nMessage:         BlueGreenPause\n" in tree


def test_status_json_of_the_demo_rollout(
    argo: Payloads, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "status", "jesse-canary", "--output", "json")
    assert code == 0, err
    ro = json.loads(out)["rollout"]
    assert (ro["status"], ro["message"]) == ("Paused", "BlueGreenPause")
    assert ro["images"] == [
        "argoproj/rollouts-demo:blue (stable, active)",
        "argoproj/rollouts-demo:green (preview)",
    ]
    assert [(rs["revision"], rs["status"], rs["stable"], rs["active"], rs["preview"], len(rs["pods"]))
            for rs in ro["replica_sets"]] == [
        (11, "Healthy", False, False, True, 3),
        (10, "Healthy", True, True, False, 3),
        (8, "ScaledDown", False, False, False, 0),
    ]  # fmt: skip
    assert (ro["desired"], ro["current"], ro["updated"], ro["ready"], ro["available"]) == (
        3,
        6,
        3,
        6,
        3,
    )


def test_list_shows_each_captured_rollout_as_kubectl_argo_rollouts_would(
    argo: Payloads, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "list", "--output", "json")
    assert code == 0, err
    rows = {r["name"]: (r["rollout"], r["status"], r["ready"]) for r in json.loads(out)["apps"]}
    assert rows == {
        "aborted-bg-rollout": ("bluegreen", "Degraded", "3/3"),
        "degraded-rollouttimeout": ("guestbook-bluegreen-helm-guestbook", "Degraded", "3/3"),
        "guestbook": ("", "", ""),
        "healthy-servingactiveservice": ("ks-guestbook-ui", "Progressing", "1/1"),
        "jesse-canary": ("bluegreen-demo", "Paused", "3/3"),
    }


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("aborted-bg-rollout", "RolloutAborted: Rollout is aborted"),
        ("degraded-rollouttimeout", "ProgressDeadlineExceeded: ReplicaSet"),
    ],
)
def test_wait_fails_fast_on_an_old_degraded_rollout(
    argo: Payloads, capsys: pytest.CaptureFixture[str], app: str, message: str
) -> None:
    code, _, err = cli(capsys, "wait", app, "--for", "released", "--timeout", "60s")
    assert code == 1, err
    assert message in err


def test_wait_preview_ready_on_the_paused_demo_rollout(
    argo: Payloads, capsys: pytest.CaptureFixture[str]
) -> None:
    """Paused with BlueGreenPause, preview on the current pod hash with 3/3 available: ready."""
    code, _, err = cli(capsys, "wait", "jesse-canary", "--for", "preview-ready", "--timeout", "60s")
    assert code == 0, err


def test_history_of_the_captured_application(
    argo: Payloads, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An old server: no ``initiatedBy`` in history, no revision metadata; the commit is not in
    the checkout given: the row says what Argo CD knows."""
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "commit", "-q", "--allow-empty", "-m", "unrelated")
    code, out, err = cli(capsys, "history", "guestbook", "--repo", str(repo), "--output", "json")
    assert code == 0, err
    assert json.loads(out)["history"] == [
        {
            "id": 0,
            "revision": "6bed858de32a0e876ec49dad1a2e3c5840d3fb07",
            "deployed_at": "2020-11-18T16:47:04Z",
            "initiated_by": "",
            "image": "",
            "previous": "",
            "author": "",
            "message": "",
            "digest": "",
            "release_set": [],
        }
    ]


def test_list_wide_name_and_yaml_as_argocd_has_them(
    argo: Payloads, capsys: pytest.CaptureFixture[str]
) -> None:
    """Friction (issue 14): ``list`` showed no namespace, project or source. ``-o wide`` adds
    them (the columns ``argocd app list`` shows), ``-o name`` prints one app per line, ``-o yaml``
    the ``-o json`` document in YAML; ``-o json`` keeps its keys."""
    from gitops_release.yaml.read import load_all

    code, out, err = cli(capsys, "list", "-o", "wide")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[-5:] == ["NAMESPACE", "PROJECT", "REPO", "PATH", "TARGET"]
    guestbook = next(line for line in lines if line.startswith("guestbook "))
    assert guestbook.split()[-5:] == [
        "default", "default", "https://github.com/argoproj/argocd-example-apps", "guestbook", "HEAD",
    ]  # fmt: skip
    assert "NAMESPACE" not in cli(capsys, "list")[1]

    code, out, err = cli(capsys, "list", "-o", "name")
    assert code == 0, err
    assert out.splitlines() == [
        "aborted-bg-rollout", "degraded-rollouttimeout", "guestbook",
        "healthy-servingactiveservice", "jesse-canary",
    ]  # fmt: skip

    code, as_json, err = cli(capsys, "list", "-o", "json")
    assert code == 0, err
    code, as_yaml, err = cli(capsys, "list", "-o", "yaml")
    assert code == 0, err
    assert load_all(as_yaml) == [json.loads(as_json)]
    first = json.loads(as_json)["apps"][0]
    assert list(first)[:8] == [
        "name", "sync", "health", "revision", "rollout", "strategy", "status", "ready",
    ]  # fmt: skip
