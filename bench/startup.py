"""Start-up cost of the CLI, as ratios against ``python -c "import typer"`` measured in the same run.

Prints, for each figure, the median of its ratios to a baseline run just before it (runs alternate,
so machine noise hits both sides alike) and their spread (the middle half, p25-p75), for wall time
and for CPU time (user + system: steadier when other processes share the cores):
  version    `gitops-release --version`     / import typer     (target <= 1.15)
  help       `gitops-release --help`        / import typer     (target <= 1.3)
  CMD help   `gitops-release CMD --help`    / import typer     (each command; target <= 1.3)
and, for the record, what rich help panels would cost (``rich_markup_mode="rich"``).

The measured processes may write .pyc files (PYTHONDONTWRITEBYTECODE is dropped for them), as an
installed package has them: otherwise every run would compile the project's modules again.

Every measured command must succeed, every time: one that fails (a python without the project's
packages, a broken entry point) stops the benchmark with exit 1 and its error, never a ratio.

Usage: ./dev bench startup [--runs N] [--commands scaffold,status,...]
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time

PY = sys.executable


def _entry() -> list[str]:
    script = shutil.which("gitops-release", path=os.path.dirname(PY))
    return [script] if script else [PY, "-m", "gitops_release"]


RICH_HELP = (
    "import typer, gitops_release.cli as c; c.app.rich_markup_mode='rich'; "
    "import sys; sys.argv=['gitops-release','--help']; raise SystemExit(c.main())"
)


class CommandFailed(Exception):
    """A measured command exited non-zero: its timing would measure a failure."""


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

COMMANDS = (
    "scaffold,lint,bump-image,app,sync,wait,promote,abort,retry,restart,status,list,history,"
    "sandbox,deploy,verify,rollback"
)


def _time(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run. CPU time (user + system, from the kernel's
    accounting of the child) hardly moves when other processes compete for the cores, which wall
    time does on a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, env=ENV
    )
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines() or ["(no stderr)"]
        raise CommandFailed(f"`{shlex.join(cmd)}` exited {proc.returncode}: {lines[-1]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def _spread(values: list[float]) -> str:
    values = sorted(values)
    q1, _, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return f"{statistics.median(values):5.2f}x ({q1:.2f}-{q3:.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument(
        "--commands", default=COMMANDS, help="commands whose --help to time (comma-separated)"
    )
    args = parser.parse_args()
    commands = {
        "baseline": [PY, "-c", "import typer"],
        "version": [*_entry(), "--version"],
        "help": [*_entry(), "--help"],
        **{f"{c} help": [*_entry(), c, "--help"] for c in args.commands.split(",") if c},
        "rich-help": [PY, "-c", RICH_HELP],
    }
    env_note = "NO_COLOR" in os.environ
    samples: dict[str, list[float]] = {name: [] for name in commands}
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    try:
        for cmd in commands.values():  # warm the page cache and .pyc files
            _time(cmd)
        for _ in range(args.runs):
            for name, cmd in commands.items():
                if name == "baseline":
                    continue
                # each figure right after its own baseline run: a ratio of neighbours in time
                base_wall, base_cpu = _time(commands["baseline"])
                took, used = _time(cmd)
                samples["baseline"].append(base_wall)
                samples[name].append(took)
                wall[name].append(took / base_wall)
                cpu[name].append(used / base_cpu)
    except CommandFailed as err:
        print(f"startup: error: {err}", file=sys.stderr)
        print(
            f"startup: {PY} must have the project installed: run `./dev bench startup`",
            file=sys.stderr,
        )
        return 1
    base = statistics.median(samples["baseline"])
    runs = len(samples["baseline"])
    print(f"baseline  import typer  {base * 1000:6.1f} ms wall (median of {runs})")
    print(f"{'figure':<16} {'wall ratio (p25-p75)':<22} {'CPU ratio (p25-p75)':<22} wall median")
    for name in commands:
        if name == "baseline":
            continue
        print(
            f"{name:<16} {_spread(wall[name]):<22} {_spread(cpu[name]):<22}"
            f" {statistics.median(samples[name]) * 1000:6.1f} ms"
        )
    if env_note:
        print("(NO_COLOR set)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
