"""Plain-HTTP and plain-git helpers for the sandbox tests (no gitops-release client code)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROLLOUT = """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: bluegreen-rollout
spec:
  replicas: 2
  strategy:
    blueGreen:
      activeService: bluegreen-active
      previewService: bluegreen-preview
      autoPromotionEnabled: false
      previewReplicaCount: 1
  revisionHistoryLimit: 2
  selector:
    matchLabels:
      app: myapp
  template:
    metadata:
      labels:
        app: myapp
    spec:
      containers:
      - name: myapp
        image: ikubernetes/myapp:v1
        ports:
        - name: http
          containerPort: 80
          protocol: TCP
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: bluegreen-active
spec:
  type: ClusterIP
  selector:
    app: myapp
  ports:
  - name: http
    port: 80
---
apiVersion: v1
kind: Service
metadata:
  name: bluegreen-preview
spec:
  type: ClusterIP
  selector:
    app: myapp
  ports:
  - name: http
    port: 80
"""
INGRESS = """\
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata:
  name: myapp-prod
spec:
  entryPoints:
  - web
  routes:
  - match: Host(`prod.myapp.com`)
    kind: Rule
    services:
      - name: bluegreen-active
        port: 80
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata:
  name: myapp-test
spec:
  entryPoints:
  - web
  routes:
  - match: Host(`test.myapp.com`)
    kind: Rule
    services:
      - name: bluegreen-preview
        port: 80
"""


class Http:
    def __init__(self, base: str, token: str | None = None) -> None:
        self.base, self.token = base, token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            hdrs.setdefault("Authorization", f"Bearer {self.token}")
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                text = resp.read().decode()
                status = resp.status
                ctype = resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            text, status, ctype = err.read().decode(), err.code, err.headers.get("Content-Type", "")
        return status, json.loads(text) if "json" in ctype and text else text

    def get(self, path: str, **kw: Any) -> Any:
        status, body = self.call("GET", path, **kw)
        assert status == 200, (path, status, body)
        return body


def host(ingress: str, name: str, path: str = "/") -> tuple[int, str]:
    req = urllib.request.Request(ingress + path, headers={"Host": name})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode().strip()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode().strip()


class GitOpsRepo:
    """A working copy pushed to the sandbox's git server with plain git."""

    def __init__(self, work: Path, url: str, env: dict[str, str]) -> None:
        self.work, self.url = work, url
        self.env = {**os.environ, **env}
        self.app = work / "myapp"
        self.app.mkdir(parents=True)
        (self.app / "rollout.yaml").write_text(ROLLOUT)
        (self.app / "service.yaml").write_text(SERVICE)
        (self.app / "ingress.yaml").write_text(INGRESS)
        self.git("init", "-q", "-b", "main")
        self.commit_push("add argorollout-blue-green")

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.work, env=self.env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def commit_push(self, message: str) -> str:
        self.git("add", ".")
        self.git("commit", "-q", "-m", message)
        self.git("push", "-q", self.url, "HEAD:main")
        return self.git("rev-parse", "HEAD")

    def set_image(self, tag: str) -> str:
        text = (self.app / "rollout.yaml").read_text()
        import re

        (self.app / "rollout.yaml").write_text(
            re.sub(r"ikubernetes/myapp:\w+", f"ikubernetes/myapp:{tag}", text)
        )
        return self.commit_push(f"update {tag}")


def application(url: str, *, auto: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": url, "path": "myapp", "targetRevision": "main"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
    }
    if auto:
        spec["syncPolicy"] = {"automated": {"prune": False, "selfHeal": False}}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "myapp", "namespace": "argocd"},
        "spec": spec,
    }


def until(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``check`` (bounded) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


# the guide's Rollout as the controller tests build it (test_sandbox_rollout, test_sandbox_cluster)
GUIDE_ROLLOUT: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "bluegreen-rollout"},
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
        "revisionHistoryLimit": 2,
        "selector": {"matchLabels": {"app": "myapp"}},
        "template": {
            "metadata": {"labels": {"app": "myapp"}},
            "spec": {"containers": [{"name": "myapp", "image": "ikubernetes/myapp:v1"}]},
        },
    },
}


# the official API specs the sandbox is held to (test_sandbox_contract, test_sandbox_client_requests)
ARGOCD = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "specs" / "argocd-swagger.json").read_text()
)
ROLLOUTS = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "specs" / "rollouts-swagger.json").read_text()
)
