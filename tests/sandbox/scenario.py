"""Upstream's e2e fixture (argo-rollouts ``test/fixtures``: Given / When / Then), rebuilt on the
sandbox's public APIs only: manifests pushed with plain git to the sandbox's git server and
synced by an auto-sync Argo CD Application, the Rollouts dashboard API for promote / abort /
retry and RolloutInfo, the Argo CD API for live objects (Rollout, Service, Pod), and the control
API for images that fail and for controller time.

Time is stepped, never waited for: the sandbox runs with its clock all but frozen, and
``wait_for`` advances controller time one second at a time (each step reconciles), so a
scenario reads the same on a loaded machine and asserts no wall-clock time.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from sandbox_helpers import Http

from gitops_release.sandbox.server import Sandbox, SandboxConfig

HASH = "rollouts-pod-template-hash"
FROZEN = 1e9  # time scale: one controller second takes ~30 years of wall time


@contextmanager
def stepped_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A sandbox whose controller time moves only when a scenario advances it."""
    sb = Sandbox(SandboxConfig(time_scale=FROZEN, state_dir=tmp_path / "sandbox-state"))
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()


SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: web-active}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web-preview}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def web(replicas: int = 1, **blue_green: object) -> str:
    """Two Services and a blue-green Rollout ``web`` with these ``strategy.blueGreen`` fields."""
    extra = "".join(f"      {k}: {str(v).lower()}\n" for k, v in blue_green.items())
    return (
        SERVICES
        + f"""---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.19-alpine
  strategy:
    blueGreen:
      activeService: web-active
      previewService: web-preview
{extra}"""
    )


def load(text: str) -> list[dict[str, Any]]:
    return [d for d in YAML(typ="safe", pure=True).load_all(text) if d]


def merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """A strategic merge patch, as upstream's PatchSpec applies it: maps merge, ``null``
    deletes, lists of named objects (containers) merge by name, other lists are replaced."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        elif isinstance(value, list) and _named(value) and _named(target.get(key)):
            by_name = {item["name"]: item for item in target[key]}
            for item in value:
                if item["name"] in by_name:
                    merge(by_name[item["name"]], item)
                else:
                    added: dict[str, Any] = {}
                    merge(added, item)  # a null in a new element deletes nothing
                    target[key].append(added)
        else:
            target[key] = copy.deepcopy(value)


def _named(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


class Scenario:
    """One Rollout (plus its Services) deployed through Git and Argo CD, observed through the
    dashboard and Argo CD APIs, on a sandbox whose clock the scenario steps."""

    def __init__(self, sb: Sandbox, work: Path, manifests: str, namespace: str = "default") -> None:
        self.sb, self.namespace = sb, namespace
        self.api = Http(sb.argocd_url, sb.token)
        self.dash = Http(sb.rollouts_url)
        self.control = Http(sb.argocd_url)
        self.objects = load(manifests)
        self.rollout_manifest = next(o for o in self.objects if o["kind"] == "Rollout")
        self.name = str(self.rollout_manifest["metadata"]["name"])
        self.work = work / "gitops"
        self.work.mkdir(parents=True)
        self.env = {**os.environ, **sb.git_env()}
        self.url = sb.repo_url(f"e2e-{self.name}")
        self.updates = 0
        self.time = 0

    # plumbing --------------------------------------------------------------------------------
    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.work, env=self.env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def _write(self) -> None:
        for i, obj in enumerate(self.objects):
            # JSON is YAML: the sandbox renders the directory as Argo CD would
            path = self.work / "app" / f"{i:02d}-{obj['kind'].lower()}.yaml"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(obj, indent=1) + "\n")

    def _push(self, message: str) -> str:
        self._write()
        self.git("add", ".")
        self.git("commit", "-q", "-m", message)
        self.git("push", "-q", self.url, "HEAD:main")
        return self.git("rev-parse", "HEAD")

    def advance(self, seconds: int = 1) -> None:
        for _ in range(seconds):
            status, body = self.control.call("POST", "/sandbox/api/v1/time/advance", {"seconds": 1})
            assert status == 200, body
            self.time += 1

    def wait_for(self, check: Callable[[], Any], what: str, seconds: int = 300) -> Any:
        """Step controller time (1 s a step) until ``check`` holds: upstream's WaitFor..."""
        for _ in range(seconds):
            result = check()
            if result:
                return result
            self.advance()
        raise AssertionError(f"{what}: not reached within {seconds} s of controller time")

    def _synced(self, sha: str) -> bool:
        app = self.api.get(f"/api/v1/applications/{self.app}")
        state = app["status"].get("operationState") or {}
        return bool(
            state.get("phase") == "Succeeded"
            and (state.get("syncResult") or {}).get("revision") == sha
        )

    @property
    def app(self) -> str:
        return f"e2e-{self.name}"

    def _sync(self, sha: str) -> None:
        self.api.get(f"/api/v1/applications/{self.app}?refresh=normal")
        self.wait_for(lambda: self._synced(sha), f"Argo CD synced {sha[:7]}", 30)

    # Given / When ----------------------------------------------------------------------------
    def apply_manifests(self) -> Scenario:
        self.git("init", "-q", "-b", "main")
        sha = self._push("e2e objects")
        application = {
            "metadata": {"name": self.app},
            "spec": {
                "project": "default",
                "source": {"repoURL": self.url, "path": "app", "targetRevision": "main"},
                "destination": {
                    "server": "https://kubernetes.default.svc",
                    "namespace": self.namespace,
                },
                "syncPolicy": {"automated": {"prune": True}},
            },
        }
        status, body = self.api.call("POST", "/api/v1/applications", application)
        assert status == 200, body
        self._sync(sha)
        return self

    def healthy_rollout(self) -> Scenario:
        """HealthyRollout: apply, then wait for status Healthy."""
        return self.apply_manifests().wait_for_status("Healthy")

    def patch_spec(self, patch: dict[str, Any]) -> Scenario:
        """UpdateSpec(text) / PatchSpec(text): a merge patch of the Rollout, pushed to Git."""
        merge(self.rollout_manifest, patch)
        self._sync(self._push(f"patch {self.name}"))
        return self

    def update_spec(self) -> Scenario:
        """UpdateSpec(): a new pod template (upstream annotates it with the time of day)."""
        self.updates += 1
        return self.patch_spec(
            {"spec": {"template": {"metadata": {"annotations": {"update": str(self.updates)}}}}}
        )

    def _dashboard(self, verb: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        path = f"/rollouts/api/v1/rollouts/{self.namespace}/{self.name}/{verb}"
        status, answer = self.dash.call("PUT", path, body or {})
        assert status == 200, (verb, status, answer)
        return dict(answer)

    def promote(self, full: bool = False) -> dict[str, Any]:
        return self._dashboard("promote", {"full": full})

    def abort(self) -> dict[str, Any]:
        return self._dashboard("abort")

    def retry(self) -> dict[str, Any]:
        return self._dashboard("retry")

    def fail_image(self, image: str, mode: str) -> None:
        status, body = self.control.call(
            "POST", "/sandbox/api/v1/images/fail", {"image": image, "mode": mode}
        )
        assert status == 200, body

    def wait_for_status(self, phase: str, seconds: int = 300) -> Scenario:
        """WaitForRolloutStatus: the phase as ``GetRolloutPhase`` (RolloutInfo.status) says."""
        self.wait_for(lambda: self.info()["status"] == phase, f"status {phase}", seconds)
        return self

    # Then ------------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return dict(self.dash.get(f"/rollouts/api/v1/rollouts/{self.namespace}/{self.name}/info"))

    def live(self, kind: str, name: str, group: str = "", version: str = "v1") -> dict[str, Any]:
        query = (
            f"namespace={self.namespace}&resourceName={name}&kind={kind}"
            f"&group={group}&version={version}"
        )
        answer = self.api.get(f"/api/v1/applications/{self.app}/resource?{query}")
        return dict(json.loads(answer["manifest"]))

    def rollout(self) -> dict[str, Any]:
        return self.live("Rollout", self.name, "argoproj.io", "v1alpha1")

    def condition(self, kind: str) -> str | None:
        found = [c for c in self.rollout()["status"].get("conditions", []) if c["type"] == kind]
        return str(found[0]["status"]) if found else None

    def replica_counts(self) -> tuple[int, int, int, int, int]:
        """ExpectReplicaCounts' (desired, current, updated, ready, available)."""
        ro = self.rollout()
        status = ro["status"]
        return (
            int(ro["spec"].get("replicas", 1)),
            int(status.get("replicas", 0)),
            int(status.get("updatedReplicas", 0)),
            int(status.get("readyReplicas", 0)),
            int(status.get("availableReplicas", 0)),
        )

    def replica_set(self, revision: int) -> dict[str, Any]:
        found = [rs for rs in self.info().get("replicaSets", []) if rs["revision"] == revision]
        assert found, f"no ReplicaSet of revision {revision}"
        return dict(found[0])

    def revision_pod_count(self, revision: int) -> int:
        return len(self.replica_set(revision).get("pods", []))

    def revision_pods(self, revision: int) -> list[dict[str, Any]]:
        """The live Pods of a revision (for their labels), through Argo CD's resource API."""
        names = [p["objectMeta"]["name"] for p in self.replica_set(revision).get("pods", [])]
        return [self.live("Pod", name) for name in names]

    def all_pods(self) -> list[dict[str, Any]]:
        """ExpectPods: every live Pod of the Rollout."""
        revisions = [int(rs["revision"]) for rs in self.info().get("replicaSets", [])]
        return [pod for revision in revisions for pod in self.revision_pods(revision)]

    def wait_for_replicas(self, count: int) -> Scenario:
        """WaitForRolloutReplicas: status.replicas."""
        self.wait_for(lambda: self.replica_counts()[1] == count, f"status.replicas={count}")
        return self

    def revision_of(self, pod_hash: str) -> int | None:
        for rs in self.info().get("replicaSets", []):
            if rs["objectMeta"]["name"] == f"{self.name}-{pod_hash}":
                return int(rs["revision"])
        return None

    def selector_revision(self, which: str) -> int | None:
        """ExpectActiveRevision / ExpectPreviewRevision: the status selector and the Service
        must agree, and name the ReplicaSet of that revision."""
        ro = self.rollout()
        service = ro["spec"]["strategy"]["blueGreen"][f"{which}Service"]
        selector = (ro["status"].get("blueGreen") or {}).get(f"{which}Selector", "")
        live_hash = (self.live("Service", service)["spec"].get("selector") or {}).get(HASH, "")
        assert selector == live_hash, (which, selector, live_hash)
        return self.revision_of(selector) if selector else None
