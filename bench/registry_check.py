"""The registry existence check's cost, as a ratio of ``bump-image`` without it (same run).

Starts Debian's ``docker-registry`` (the CNCF distribution registry 2.8) on 127.0.0.1 with no
auth, pushes a small image under many tags through its HTTP API, and times a fresh
``gitops-release bump-image vN --app apps/web --repo CHECKOUT`` process (a local checkout with a
bare remote: fetch, edit, commit, push) with ``--verify-image on`` and with ``--verify-image off``,
alternating, so machine noise hits both sides alike. Prints the medians, the spread (min..max) of
each side and on/off (goal <= 1.15); then the median of the ratios within each adjacent pair and
the ratio of CPU time (the processes' and git's), which a loaded machine moves less. A benchmark,
not a test.

A command that fails (the tool, git, the registry) stops the benchmark with exit 1 and its error
output: a failed run is never timed.

With ``--remote`` the repository is served over smart HTTP (the sandbox's git server) and each
run is ``bump-image vN --app apps/web --repo URL``, as a CI job without a checkout runs it: the
check's HTTP stack is then imported while git clones.

Usage: ./dev bench registry_check [--runs 9] [--remote]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

PY = sys.executable
ENTRY = str(Path(PY).parent / "gitops-release")
BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
TOKEN = "bench-token-0123456789"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: {image}
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(method: str, url: str, data: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(url, data=data or None, method=method, headers=headers or {})
    return urllib.request.urlopen(req, timeout=10)


def start_registry(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    if not os.access(BINARY, os.X_OK):
        sys.exit(f"registry_check: {BINARY} not found (apt-get install docker-registry)")
    host = f"127.0.0.1:{_port()}"
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(tmp / "storage")}},
        "http": {"addr": host, "secret": "bench"},
    }
    (tmp / "config.yml").write_text(json.dumps(config))
    log = (tmp / "registry.log").open("wb")
    proc = subprocess.Popen([BINARY, "serve", str(tmp / "config.yml")], stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while True:
        try:
            _call("GET", f"http://{host}/v2/")
            return proc, host
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                sys.exit(f"registry_check: docker-registry did not start: {log.name}")
            time.sleep(0.05)


def push(host: str, repo: str, tags: list[str]) -> None:
    """One small image (config + layer), then a manifest PUT per tag."""
    blobs = []
    for data in (b'{"architecture":"amd64","os":"linux"}', b"layer"):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = _call("POST", f"http://{host}/v2/{repo}/blobs/uploads/")
        location = start.headers["Location"]
        location = location if "://" in location else f"http://{host}{location}"
        sep = "&" if "?" in location else "?"
        _call("PUT", f"{location}{sep}digest={digest}", data,
              {"Content-Type": "application/octet-stream"})  # fmt: skip
        blobs.append({"digest": digest, "size": len(data)})
    kind = "application/vnd.docker.distribution.manifest.v2+json"
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": kind,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", **blobs[0]},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", **blobs[1]}],
    }).encode()  # fmt: skip
    for tag in tags:
        _call("PUT", f"http://{host}/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": kind})


def sh(*args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(f"registry_check: {' '.join(args)} failed ({done.returncode}):\n")
        sys.stderr.write(done.stderr or done.stdout)
        sys.exit(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument(
        "--remote", action="store_true", help="--repo URL over smart HTTP, not a local checkout"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as scratch:
        tmp = Path(scratch)
        proc, host = start_registry(tmp)
        server = None
        try:
            tags = [f"v1.0.{n}" for n in range(2 * args.runs + 3)]
            push(host, "team/web", tags)
            bare, work = tmp / "remote.git", tmp / "work"
            sh("git", "init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp)
            sh("git", "clone", "-q", str(bare), str(work), cwd=tmp)
            (work / "apps/web").mkdir(parents=True)
            image = f"{host}/team/web:{tags[0]}"
            (work / "apps/web/deployment.yaml").write_text(DEPLOYMENT.format(image=image))
            sh("git", "add", ".", cwd=work)
            sh("git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "web", cwd=work)
            sh("git", "push", "-q", "origin", "main", cwd=work)
            env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@b",
                   "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@b"}  # fmt: skip
            repo = str(work)
            if args.remote:
                sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
                from gitops_release.sandbox.gitserver import GitServer

                server = GitServer(tmp / "srv", TOKEN, lifetime=3600)
                server.start()
                server.import_repo("team/gitops.git", bare)
                repo = server.url("team/gitops.git")
                env["GITOPS_RELEASE_GIT_TOKEN"] = TOKEN
            times: dict[str, list[float]] = {"on": [], "off": []}
            cpu: dict[str, list[float]] = {"on": [], "off": []}
            n = 1
            for run in range(args.runs + 1):  # the first pair warms caches and is not counted
                for mode in ("on", "off") if run % 2 == 0 else ("off", "on"):
                    before = os.times()
                    start = time.perf_counter()
                    sh(ENTRY, "bump-image", tags[n], "--app", "apps/web", "--repo", repo,
                       "--verify-image", mode, cwd=work, env=env)  # fmt: skip
                    elapsed = time.perf_counter() - start
                    after = os.times()
                    n += 1
                    if run:
                        times[mode].append(elapsed)
                        cpu[mode].append(
                            after.children_user + after.children_system
                            - before.children_user - before.children_system
                        )  # fmt: skip
        finally:
            if server is not None:
                server.stop()
            proc.terminate()
            proc.wait(timeout=10)
    for mode in ("off", "on"):
        t = times[mode]
        print(f"bump-image --verify-image {mode:3}: median {statistics.median(t) * 1000:6.0f} ms "
              f"(min {min(t) * 1000:.0f}, max {max(t) * 1000:.0f}, {len(t)} runs)")  # fmt: skip
    ratio = statistics.median(times["on"]) / statistics.median(times["off"])
    spread = min(times["on"]) / max(times["off"]), max(times["on"]) / min(times["off"])
    print(f"repository: {'--repo URL (smart HTTP)' if args.remote else 'a local checkout'}")
    print(f"on/off: {ratio:.3f}x (goal <= 1.15; spread {spread[0]:.2f}..{spread[1]:.2f})")
    # on a shared machine the load drifts between runs: the ratio within each adjacent pair,
    # and the CPU time of the processes (git's included), move less than the wall clock
    pairs = statistics.median(a / b for a, b in zip(times["on"], times["off"], strict=True))
    cpu_ratio = statistics.median(cpu["on"]) / statistics.median(cpu["off"])
    print(f"on/off per pair (median): {pairs:.3f}x; CPU time on/off: {cpu_ratio:.3f}x "
          f"({statistics.median(cpu['on']) * 1000:.0f} / {statistics.median(cpu['off']) * 1000:.0f} ms)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
