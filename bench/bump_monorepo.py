"""``bump-image --repo URL`` on a big GitOps monorepo, as ratios against baselines of the same run.

Builds (with ``git fast-import``) a monorepo of ~20,000 files in ~2,000 app directories with
~2,000 commits (apps are added, then image tags and config maps change, as in real life), serves
it over the smart-HTTP git server (token auth), and times, over ``file://`` and over HTTP:

  tool   ``gitops-release bump-image vN --repo URL --app apps/appXXXX`` (a fresh process)
  floor  the minimal raw git sequence for the same job (partial + sparse + shallow clone, edit,
         commit, push) plus the start-up of ``python -c "import typer, git, ruamel.yaml"``
  tuned  the floor with the tool's own git tricks (cone written before the first checkout,
         sparse index, add + commit, no auto maintenance): tool/tuned is the tool's own overhead
  full   a plain full clone of the repository, then the same edit, commit and push

and prints tool/floor (target <= 1.15) and full/tool (target >= 10): the median of the ratios of
each round (runs alternate, so machine noise hits every side alike) and their spread (p25-p75),
the same ratios of CPU time (user + system of every process run: steadier on a shared machine),
then the medians and minima of the wall times. A benchmark, not a test.

The measured python processes may write .pyc files (PYTHONDONTWRITEBYTECODE is dropped for them),
as an installed package has them: otherwise the tool would compile its own modules on every run
while the floor imports only pre-compiled site-packages.

A command that fails (the tool, git, the python of the floor) stops the benchmark with exit 1 and
its error output: a failed run is never timed.

Usage: ./dev bench bump_monorepo [--apps 2000] [--files-per-app 10] [--runs 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gitops_release.sandbox.gitserver import GitServer

PY = sys.executable
ENTRY = str(Path(PY).parent / "gitops-release")
TOKEN = "bench-token-0123456789"

ROLLOUT = """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: {app}
  labels:
    app.kubernetes.io/name: {app}
    team: team-{team}
spec:
  replicas: 2
  revisionHistoryLimit: 2
  selector:
    matchLabels:
      app: {app}
  template:
    metadata:
      labels:
        app: {app}
    spec:
      containers:
        - name: {app}
          image: registry.example.com/team-{team}/{app}:{tag}  # bumped by CI
          ports:
            - name: http
              containerPort: 8080
          resources:
            requests: {{cpu: 50m, memory: 64Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
          readinessProbe:
            httpGet: {{path: /healthz, port: http}}
  strategy:
    blueGreen:
      activeService: {app}-active
      previewService: {app}-preview
      autoPromotionEnabled: false
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {app}-{role}
spec:
  selector:
    app: {app}
  ports:
    - name: http
      port: 80
      targetPort: http
"""
INGRESS = """\
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata:
  name: {app}-{role}
spec:
  entryPoints: [websecure]
  routes:
    - match: Host(`{host}.{app}.example.com`)
      kind: Rule
      services:
        - name: {app}-{svc}
          port: 80
"""
CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {app}-{n}
data:
  revision: "{rev}"
{body}
"""


def app_files(app: str, team: int, tag: str, rev: int, per_app: int) -> dict[str, str]:
    files = {
        "rollout.yaml": ROLLOUT.format(app=app, team=team, tag=tag),
        "service-active.yaml": SERVICE.format(app=app, role="active"),
        "service-preview.yaml": SERVICE.format(app=app, role="preview"),
        "ingress-prod.yaml": INGRESS.format(app=app, role="prod", host="prod", svc="active"),
        "ingress-test.yaml": INGRESS.format(app=app, role="test", host="test", svc="preview"),
        "kustomization.yaml": "resources:\n"
        + "".join(f"  - {name}\n" for name in ("rollout.yaml", "service-active.yaml")),
    }
    n = 0
    while len(files) < per_app:
        body = "".join(f"  key{k}: value-{app}-{n}-{k}-{rev}\n" for k in range(12))
        files[f"config-{n}.yaml"] = CONFIG.format(app=app, n=n, rev=rev, body=body)
        n += 1
    return files


def build(bare: Path, apps: int, per_app: int, commits: int) -> None:
    """A bare monorepo via git fast-import: apps are added in batches, then changed."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    rng = random.Random(7)
    names = [f"app{i:04d}" for i in range(apps)]
    add_commits = max(1, commits // 10)
    batch = -(-apps // add_commits)
    chunks: list[bytes] = []
    when = 1_700_000_000

    def commit(message: str, files: dict[str, str]) -> None:
        nonlocal when
        when += 60
        head = (
            f"commit refs/heads/main\ncommitter Bench <bench@example.com> {when} +0000\n"
            f"data {len(message)}\n{message}\n"
        )
        chunks.append(head.encode())
        for path, text in files.items():
            data = text.encode()
            chunks.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")

    for c in range(add_commits):
        added = names[c * batch : (c + 1) * batch]
        files: dict[str, str] = {}
        for app in added:
            for name, text in app_files(app, int(app[3:]) % 40, "v1", 0, per_app).items():
                files[f"apps/{app}/{name}"] = text
        if added:
            commit(f"add {', '.join(added[:3])}...", files)
    for c in range(commits - add_commits):
        app = rng.choice(names)
        tag = f"v{c + 2}"
        changed = app_files(app, int(app[3:]) % 40, tag, c + 1, per_app)
        keep = {k: v for k, v in changed.items() if k == "rollout.yaml" or k.startswith("config-0")}
        commit(f"release({app}): {tag}", {f"apps/{app}/{k}": v for k, v in keep.items()})
    subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=b"".join(chunks), check=True)
    subprocess.run(["git", "gc", "--quiet"], cwd=bare, check=True)


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_of(fn: Callable[[], None]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn``: CPU is user + system time of the processes it ran (git,
    the tool; the smart-HTTP server's git too), steadier than wall time on a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    took = timed(fn)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def sh(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


class Runner:
    def __init__(self, scratch: Path, apps: int) -> None:
        self.scratch = scratch
        self.apps = apps
        self.n = 0
        header = base64.b64encode(f"oauth2:{TOKEN}".encode()).decode()
        self.git_env = {
            **os.environ,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {header}",
            "GIT_TERMINAL_PROMPT": "0",
        }
        self.tool_env = {**os.environ, "GITOPS_RELEASE_GIT_TOKEN": TOKEN}
        self.tool_env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.py_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def _next(self) -> tuple[str, str, Path]:
        self.n += 1
        app = f"app{(self.n * 397) % self.apps:04d}"
        work = self.scratch / f"w{self.n}"
        return app, f"bench{self.n}", work

    def tool(self, url: str) -> None:
        app, tag, _ = self._next()
        sh(ENTRY, "bump-image", tag, "--repo", url, "--app", f"apps/{app}", env=self.tool_env)

    def _edit_commit_push(self, work: Path, app: str, tag: str, tuned: bool = False) -> None:
        rel = f"apps/{app}/rollout.yaml"
        path = work / rel
        text = path.read_text()
        start = text.index("image: ") + len("image: ")
        end = text.index("  #", start)
        path.write_text(text[:start] + text[start:end].rsplit(":", 1)[0] + f":{tag}" + text[end:])
        message = f"release({app}): {tag}"
        if tuned:
            sh("git", "add", rel, cwd=work, env=self.git_env)
            quiet = ["-c", "maintenance.auto=false", "commit", "-q", "--no-verify", "-m", message]
            sh("git", *quiet, cwd=work, env=self.git_env)
        else:
            sh("git", "commit", "-q", "-am", message, cwd=work, env=self.git_env)
        sh("git", "push", "-q", "origin", "HEAD:main", cwd=work, env=self.git_env)
        shutil.rmtree(work)

    def floor(self, url: str) -> None:
        app, tag, work = self._next()
        sh(PY, "-c", "import typer, git, ruamel.yaml", env=self.py_env)
        sh(
            "git", "clone", "-q", "--filter=blob:none", "--depth=1", "--sparse",
            "--single-branch", "--no-tags", url, str(work), env=self.git_env,
        )  # fmt: skip
        sh("git", "sparse-checkout", "set", f"apps/{app}", cwd=work, env=self.git_env)
        self._edit_commit_push(work, app, tag)

    def tuned(self, url: str) -> None:
        """The floor with every trick the tool uses: no checkout before the cone is written,
        a sparse index, add + commit instead of commit -a, no auto maintenance."""
        app, tag, work = self._next()
        sh(PY, "-c", "import typer, git, ruamel.yaml", env=self.py_env)
        sh(
            "git", "clone", "-q", "--filter=blob:none", "--depth=1", "--sparse", "--no-checkout",
            "--single-branch", "--no-tags", "--config", "index.sparse=true", url, str(work),
            env=self.git_env,
        )  # fmt: skip
        cone = f"/*\n!/*/\n/apps/\n!/apps/*/\n/apps/{app}/\n"
        (work / ".git" / "info" / "sparse-checkout").write_text(cone)
        sh("git", "checkout", "-q", "main", cwd=work, env=self.git_env)
        self._edit_commit_push(work, app, tag, tuned=True)

    def full(self, url: str) -> None:
        app, tag, work = self._next()
        sh("git", "clone", "-q", url, str(work), env=self.git_env)
        self._edit_commit_push(work, app, tag)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apps", type=int, default=2000)
    parser.add_argument("--files-per-app", type=int, default=10)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the built repository here (and reuse it)")
    args = parser.parse_args()
    if not Path(ENTRY).is_file():
        print(
            f"bump_monorepo: error: no {ENTRY}: run `./dev bench bump_monorepo` (the project's .venv)",
            file=sys.stderr,
        )
        return 1

    tmp = Path(tempfile.mkdtemp(prefix="bench-bump-"))
    os.environ.setdefault("GIT_AUTHOR_NAME", "Bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
    os.environ.setdefault("GIT_COMMITTER_NAME", "Bench")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "bench@example.com")
    server = GitServer(tmp / "srv", TOKEN, lifetime=3600)
    try:
        source = args.keep or tmp / "source.git"
        if not (source / "HEAD").exists():
            t = timed(lambda: build(source, args.apps, args.files_per_app, args.commits))
            print(f"built {source} in {t:.1f} s", flush=True)
        files = subprocess.run(
            ["git", "ls-tree", "-r", "--name-only", "main"],
            cwd=source, capture_output=True, text=True, check=True,
        ).stdout.count("\n")  # fmt: skip
        commits = subprocess.run(
            ["git", "rev-list", "--count", "main"],
            cwd=source, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        print(f"repository: {files} files, {args.apps} app dirs, {commits} commits")
        server.start()
        bare = server.import_repo("team/gitops.git", source)
        urls = {"file": bare.as_uri(), "http": server.url("team/gitops.git")}
        scratch = tmp / "scratch"
        scratch.mkdir()
        runner = Runner(scratch, args.apps)
        kinds = {
            "tool": runner.tool,
            "floor": runner.floor,
            "tuned": runner.tuned,
            "full": runner.full,
        }
        samples = {(t, k): [] for t in urls for k in kinds}
        cpu: dict[tuple[str, str], list[float]] = {(t, k): [] for t in urls for k in kinds}
        for url in urls.values():  # warm-up: page cache, .pyc files
            for fn in kinds.values():
                fn(url)
        for _ in range(args.runs):
            for transport, url in urls.items():
                for kind, fn in kinds.items():
                    took, used = cpu_of(lambda fn=fn, url=url: fn(url))
                    samples[(transport, kind)].append(took)
                    cpu[(transport, kind)].append(used)
        ok = True
        print(f"ratios of each of {args.runs} rounds: median (p25-p75)")
        for transport in urls:
            cells = []
            for num, den, target in (
                ("tool", "floor", "<= 1.15"),
                ("tool", "tuned", ""),
                ("full", "tool", ">= 10"),
            ):
                ratios = sorted(
                    a / b
                    for a, b in zip(
                        samples[(transport, num)], samples[(transport, den)], strict=True
                    )
                )
                q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
                med = statistics.median(ratios)
                goal = f" (target {target})" if target else ""
                cells.append(f"{num}/{den} {med:5.2f}x ({q1:.2f}-{q3:.2f}){goal}")
                if num == "tool" and den == "floor":
                    ok = ok and med <= 1.15
                if num == "full":
                    ok = ok and med >= 10
            print(f"  {transport:<5} " + "   ".join(cells))
            cpu_cells = []
            for num, den in (("tool", "floor"), ("tool", "tuned")):
                ratios = sorted(
                    a / b for a, b in zip(cpu[(transport, num)], cpu[(transport, den)], strict=True)
                )
                q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
                cpu_cells.append(
                    f"{num}/{den} {statistics.median(ratios):5.2f}x ({q1:.2f}-{q3:.2f})"
                )
            print(f"  {transport:<5} CPU time: " + "   ".join(cpu_cells))
        for label, pick in (("median", statistics.median), ("minimum", min)):
            print(f"{label} of {args.runs} runs (wall time, seconds):")
            for transport in urls:
                tool, floor, tuned, full = (
                    pick(samples[(transport, k)]) for k in ("tool", "floor", "tuned", "full")
                )
                print(
                    f"  {transport:<5} tool {tool:6.3f}  floor {floor:6.3f}  tuned floor {tuned:6.3f}"
                    f"  full clone {full:6.3f}\n"
                    f"        tool/floor {tool / floor:4.2f}x"
                    f"   tool/tuned floor {tool / tuned:4.2f}x"
                    f"   full/tool {full / tool:5.1f}x"
                )
        print("targets met" if ok else "targets NOT met")
    except (subprocess.CalledProcessError, OSError) as err:  # a failed run is not measured
        output = getattr(err, "stderr", None) or b""
        print(
            f"bump_monorepo: error: {err}\n{output.decode(errors='replace').strip()}".strip(),
            file=sys.stderr,
        )
        return 1
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
