"""A release set of 50 apps in one ``bump-image --set`` against one app's ``bump-image``, as a
ratio of the same run (goal: the set <= 2x one app: one clone, one commit, one push).

Builds the monorepo of ``bump_monorepo.py`` (smaller by default: 500 app directories of 10 files),
serves it over the smart-HTTP git server, and alternates, each a fresh process on its own apps and
tags so every run changes something:

  one  ``gitops-release bump-image vN --repo URL --app apps/appXXXX``
  set  ``gitops-release bump-image --repo URL --set apps/appXXXX=vN ...`` (``--size`` apps)

and prints set/one: the median of the ratios of each round and their spread (p25-p75), the same
ratio of CPU time, then the median wall times. A benchmark, not a test; a failed run stops it
with exit 1 and its error output.

Usage: ./dev bench bump_set [--size 50] [--apps 500] [--files-per-app 10] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bump_monorepo import ENTRY, TOKEN, build, cpu_of, sh, timed

from gitops_release.sandbox.gitserver import GitServer

GOAL = 2.0


class Runs:
    def __init__(self, apps: int, size: int) -> None:
        self.apps, self.size, self.n, self.next_app = apps, size, 0, 0
        self.env = {**os.environ, "GITOPS_RELEASE_GIT_TOKEN": TOKEN}
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["GITOPS_RELEASE_VERIFY_IMAGE"] = "off"

    def _apps(self, count: int) -> list[str]:
        picked = [f"app{(self.next_app + i) % self.apps:04d}" for i in range(count)]
        self.next_app += count
        return picked

    def one(self, url: str) -> None:
        self.n += 1
        (app,) = self._apps(1)
        sh(
            ENTRY,
            "bump-image",
            f"bench{self.n}",
            "--repo",
            url,
            "--app",
            f"apps/{app}",
            env=self.env,
        )

    def set(self, url: str) -> None:
        self.n += 1
        sets = [
            arg for app in self._apps(self.size) for arg in ("--set", f"apps/{app}=bench{self.n}")
        ]
        sh(ENTRY, "bump-image", "--repo", url, *sets, env=self.env)


def _ratios(nums: list[float], dens: list[float]) -> tuple[float, float, float]:
    ratios = sorted(a / b for a, b in zip(nums, dens, strict=True))
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return statistics.median(ratios), q1, q3


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=50, help="apps in the set")
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--files-per-app", type=int, default=10)
    parser.add_argument("--commits", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not Path(ENTRY).is_file():
        print(f"bump_set: error: no {ENTRY}: run `./dev bench bump_set`", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="bench-set-"))
    for key, value in (("NAME", "Bench"), ("EMAIL", "bench@example.com")):
        os.environ.setdefault(f"GIT_AUTHOR_{key}", value)
        os.environ.setdefault(f"GIT_COMMITTER_{key}", value)
    server = GitServer(tmp / "srv", TOKEN, lifetime=3600)
    try:
        source = tmp / "source.git"
        took = timed(lambda: build(source, args.apps, args.files_per_app, args.commits))
        print(f"built {args.apps} app dirs x {args.files_per_app} files in {took:.1f} s")
        server.start()
        server.import_repo("team/gitops.git", source)
        url = server.url("team/gitops.git")
        runs = Runs(args.apps, args.size)
        runs.one(url)  # warm-up: page cache, .pyc files
        runs.set(url)
        wall: dict[str, list[float]] = {"one": [], "set": []}
        cpu: dict[str, list[float]] = {"one": [], "set": []}
        for _ in range(args.runs):
            for kind, fn in (("one", runs.one), ("set", runs.set)):
                took, used = cpu_of(lambda fn=fn: fn(url))
                wall[kind].append(took)
                cpu[kind].append(used)
        med, q1, q3 = _ratios(wall["set"], wall["one"])
        cmed, cq1, cq3 = _ratios(cpu["set"], cpu["one"])
        print(f"set of {args.size} apps / one app, over HTTP, {args.runs} rounds:")
        print(f"  wall time  {med:5.2f}x ({q1:.2f}-{q3:.2f})   (goal <= {GOAL:.0f}x)")
        print(f"  CPU time   {cmed:5.2f}x ({cq1:.2f}-{cq3:.2f})")
        print(
            f"  medians: one app {statistics.median(wall['one']):.3f} s, "
            f"set {statistics.median(wall['set']):.3f} s"
        )
        print("goal met" if med <= GOAL else "goal NOT met")
    except (subprocess.CalledProcessError, OSError) as err:
        output = getattr(err, "stderr", None) or b""
        print(f"bump_set: error: {err}\n{output.decode(errors='replace').strip()}", file=sys.stderr)
        return 1
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
