"""HTTP requests made by ``wait --for preview-ready`` over a 60 s blue-green rollout, against a
naive poller (GET the app and the live Rollout once a second, like a shell loop around
``argocd app get`` + ``kubectl argo rollouts status``) on the same rollout in the same run.

The sandbox's pods take 60 s of controller time to become ready; ``--scale`` slows or speeds the
controller clock (1.0 = real time: the run takes about two minutes).

A command that fails (the CLI, git) stops the benchmark with exit 1 and its error output.

Usage: ./dev bench wait_requests [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

try:
    from gitops_release.sandbox.replicaset import Timing
    from gitops_release.sandbox.server import Sandbox, SandboxConfig
except ImportError as err:  # a python without the project: say so, not a traceback
    raise SystemExit(f"wait_requests: error: {err}: run `./dev bench wait_requests`") from None

# The guide's rollout.yaml, service.yaml and ingress.yaml, as tests/data/SOURCES.md describes them.
GUIDE = Path(__file__).resolve().parents[1] / "tests" / "data" / "guide"
APP = """apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: myapp, namespace: argocd}}
spec:
  project: default
  destination: {{namespace: default, server: 'https://kubernetes.default.svc'}}
  source: {{repoURL: '{repo}', path: myapp, targetRevision: main}}
  syncPolicy: {{automated: {{prune: false}}}}
"""


def naive_poll(sb: Sandbox) -> tuple[int, float]:
    """GET app + GET live Rollout every second until Paused/BlueGreenPause: (requests, seconds)."""
    headers = {"Authorization": f"Bearer {sb.token}"}
    base = f"{sb.argocd_url}/api/v1/applications/myapp"
    query = "namespace=default&resourceName=bluegreen-rollout&group=argoproj.io&version=v1alpha1&kind=Rollout"
    count, start = 0, time.monotonic()
    while True:
        for url in (base, f"{base}/resource?{query}"):
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as resp:
                body = json.loads(resp.read())
            count += 1
        status = json.loads(body["manifest"]).get("status", {})
        if status.get("phase") == "Paused" and status.get("message") == "BlueGreenPause":
            return count, time.monotonic() - start
        time.sleep(1.0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-wait-"))
    timing = Timing(pod_start=10.0, pod_ready=50.0)
    sb = Sandbox(
        SandboxConfig(time_scale=args.scale, state_dir=tmp / "state", timing=timing)
    ).start()
    try:
        env = {**os.environ, **sb.git_env()}
        repo = tmp / "gitops"
        (repo / "myapp").mkdir(parents=True)
        for name in ("rollout.yaml", "service.yaml", "ingress.yaml"):
            (repo / "myapp" / name).write_text((GUIDE / name).read_text(encoding="utf-8"))

        def git(*a: str) -> None:
            subprocess.run(
                ["git", "-c", "user.name=b", "-c", "user.email=b@e", *a],
                cwd=repo,
                env=env,
                check=True,
                capture_output=True,
            )

        git("init", "-q", "-b", "main")
        git("add", ".")
        git("commit", "-qm", "v1")
        git("remote", "add", "origin", sb.repo_url("gitops"))
        git("push", "-q", "origin", "main")
        (tmp / "app.yaml").write_text(APP.format(repo=sb.repo_url("gitops")))
        cli_env = {**os.environ, **sb.env()}

        def cli(*a: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "gitops_release", *a],
                env=cli_env,
                capture_output=True,
                text=True,
                check=True,
            )

        def bump(old: str, new: str) -> None:
            path = repo / "myapp" / "rollout.yaml"
            path.write_text(path.read_text().replace(f"myapp:{old}", f"myapp:{new}"))
            git("commit", "-qam", new)
            git("push", "-q", "origin", "main")

        cli("app", "create", "--file", str(tmp / "app.yaml"))
        cli("wait", "myapp", "--for", "released", "--timeout", "30m")
        bump("v1", "v2")
        ours = json.loads(
            cli("wait", "myapp", "--for", "preview-ready", "--timeout", "30m", "-o", "json").stdout
        )
        cli("promote", "myapp", "--wait", "--timeout", "30m")
        bump("v2", "v3")
        cli("sync", "myapp", "--timeout", "30m")  # refresh + synced, so the poller starts like ours
        polled, seconds = naive_poll(sb)
        print(
            f"wait --for preview-ready: {ours['http_requests']} requests in {ours['waited_seconds']:.1f} s"
        )
        print(f"naive 1 s poller:         {polled} requests in {seconds:.1f} s")
        print(f"ratio: {polled / max(1, ours['http_requests']):.1f}x fewer requests")
    except (subprocess.CalledProcessError, OSError) as err:  # a failed run is not measured
        output = getattr(err, "stderr", None) or ""
        output = output if isinstance(output, str) else output.decode(errors="replace")
        print(f"wait_requests: error: {err}\n{output.strip()}".strip(), file=sys.stderr)
        return 1
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
