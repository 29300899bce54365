"""Start-up cost of the CLI, as ratios against ``python -c "import typer"`` measured in the same run.

Prints, for each figure, the median of the per-round ratios (runs alternate, so machine noise hits
both sides alike) and their spread (the middle half, p25-p75):
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


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, env=ENV
    )
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
    base = statistics.median(samples["baseline"])
    print(f"baseline  import typer          {base * 1000:7.1f} ms  (median of {args.runs})")
    print(f"{'figure':<18} {'ratio':>6}  {'spread p25-p75':>14}  {'median':>9}")
    for name in commands:
        if name == "baseline":
            continue
        ratios = sorted(t / b for t, b in zip(samples[name], samples["baseline"], strict=True))
        q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        print(
            f"{name:<18} {statistics.median(ratios):5.2f}x  {q1:6.2f}-{q3:5.2f}x"
            f"  {statistics.median(samples[name]) * 1000:6.1f} ms"
        )
    if env_note:
        print("(NO_COLOR set)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
