"""Start-up cost of the CLI, as ratios against ``python -c "import typer"`` measured in the same run.

Prints two ratios (medians of alternating runs, so machine noise hits both sides alike):
  version  `gitops-release --version`  / import typer     (target <= 1.3)
  help     `gitops-release --help`     / import typer
and, for the record, what rich help panels would cost (``rich_markup_mode="rich"``).

Every measured command must succeed, every time: one that fails (a python without the project's
packages, a broken entry point) stops the benchmark with exit 1 and its error, never a ratio.

Usage: ./dev bench startup [--runs N]   (or .venv/bin/python bench/startup.py [--runs N])
"""

from __future__ import annotations

import argparse
import os
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


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines() or ["(no stderr)"]
        raise CommandFailed(f"`{shlex.join(cmd)}` exited {proc.returncode}: {lines[-1]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    commands = {
        "baseline": [PY, "-c", "import typer"],
        "version": [*_entry(), "--version"],
        "help": [*_entry(), "--help"],
        "rich-help": [PY, "-c", RICH_HELP],
    }
    env_note = "NO_COLOR" in os.environ
    samples: dict[str, list[float]] = {name: [] for name in commands}
    try:
        for cmd in commands.values():  # warm the page cache and .pyc files
            _time(cmd)
        for _ in range(args.runs):
            for name, cmd in commands.items():
                samples[name].append(_time(cmd))
    except CommandFailed as err:
        print(f"startup: error: {err}", file=sys.stderr)
        print(
            f"startup: {PY} must have the project installed: run `./dev bench startup`",
            file=sys.stderr,
        )
        return 1
    med = {name: statistics.median(values) for name, values in samples.items()}
    base = med["baseline"]
    print(f"baseline  import typer          {base * 1000:7.1f} ms  (median of {args.runs})")
    for name in ("version", "help", "rich-help"):
        print(f"{name:<9} ratio {med[name] / base:5.2f}x        {med[name] * 1000:7.1f} ms")
    if env_note:
        print("(NO_COLOR set)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
