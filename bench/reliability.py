"""The reliability suite's scenarios (tests/reliability/), counted: one line per category.

  races      16 bump-image processes on 16 apps + 16 compare-and-swaps on one app + two deploys
  faults     Git and Argo CD faults and kills: a named end state, all or nothing, a re-run finishes
  bad-input  the table of bad input: exit 2/4, one error line, nothing written
  secrets    every output, record, git directory and process argument list of the runs above
  fuzz       the Hypothesis properties, in rounds until the time budget (--fuzz-seconds) is spent

Exits 0 only when every category held everything. ``-v`` prints each failed check.

Usage: ./dev bench reliability [--fuzz-seconds 45] [-v]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reliability"))

try:
    import rel_badinput
    import rel_faults_argo
    import rel_faults_git
    import rel_fuzz
    import rel_races
    import rel_secrets
    from rel_common import Check, pinned_environment
except ImportError as err:  # a python without the project's test extra: say so, not a traceback
    raise SystemExit(f"reliability: error: {err}: run `./dev bench reliability`") from None

WORDS = {
    "races": ("held", "lost"),
    "faults": ("recovered", "lost"),
    "bad-input": ("rejected cleanly", "lost"),
    "secrets": ("paths clean", "leaks"),
    "fuzz": ("cases passed", "lost"),
}


def _safe(fn: Callable[[Path], list[Check]], work: Path, category: str) -> list[Check]:
    work.mkdir(parents=True, exist_ok=True)
    try:
        return fn(work)
    except Exception as err:  # a scenario that crashes counts as one that did not hold
        return [Check(category, fn.__name__, False, 1, f"{type(err).__name__}: {err}")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz-seconds", type=float, default=45.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    results: dict[str, list[Check]] = {k: [] for k in WORDS}
    timings: dict[str, float] = {}
    with pinned_environment(), tempfile.TemporaryDirectory(prefix="rel-bench-") as tmp:
        root = Path(tmp)
        plan: list[tuple[str, Callable[[Path], list[Check]]]] = [
            ("races", rel_races.sixteen_apps),
            ("races", rel_races.sixteen_compare_and_swap),
            ("races", rel_races.two_deploys),
            *[("faults", s) for s in rel_faults_git.SCENARIOS + rel_faults_argo.SCENARIOS],
            ("bad-input", rel_badinput.run_cases),
            ("secrets", lambda w: (rel_secrets.more_paths(w), rel_secrets.scan())[1]),
        ]
        for i, (category, fn) in enumerate(plan):
            start = time.monotonic()
            results[category] += _safe(fn, root / f"s{i}", category)
            timings[category] = timings.get(category, 0.0) + time.monotonic() - start
        start = time.monotonic()
        fuzz = _safe(lambda w: rel_fuzz.budgeted(w, args.fuzz_seconds), root / "fuzz", "fuzz")
        timings["fuzz"] = time.monotonic() - start
    ok = True
    for category, (good, bad) in WORDS.items():
        checks = results[category] if category != "fuzz" else fuzz
        if category == "fuzz":
            tried = sum(_count(c) for c in checks) + sum(not c.held for c in checks)
            held = sum(_count(c) for c in checks if c.held)
        else:
            tried, held = len(checks), sum(c.held for c in checks)
        lost = sum(c.lost for c in checks)
        ok = ok and held == tried and lost == 0 and tried > 0
        print(f"{category} {held}/{tried} {good}, {lost} {bad}", flush=True)
        if args.verbose:
            for check in checks:
                if not check.held:
                    print(f"  ! {check.name}: {check.detail}", file=sys.stderr)
    print("time: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()), file=sys.stderr)
    return 0 if ok else 1


def _count(check: Check) -> int:
    return int(check.name.rsplit(" x", 1)[-1]) if " x" in check.name else 0


if __name__ == "__main__":
    raise SystemExit(main())
