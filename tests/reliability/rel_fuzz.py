"""Fuzzing (issue 7, part 5): the Hypothesis properties of tests/test_fuzz_images.py and
tests/test_fuzz_yamledit.py (their strategies and bodies, imported), plus what the issue asks
that they do not cover: random tags and references through the real CLI (exit 0 or 2, never a
crash, one error line, nothing written) and the redaction filter (a registered secret never
survives, whatever surrounds it).

:func:`run` runs each property for a number of examples and returns how many passed; the bench
calls it in rounds until its time budget is spent.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import test_fuzz_images as fi
import test_fuzz_yamledit as fy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rel_common import ROLLOUT, Check, git, one_error_line, run_main

from gitops_release import output


@dataclass
class Prop:
    name: str
    strategies: tuple[Any, ...]
    body: Callable[..., None]


def _inner(test: Any) -> Callable[..., None]:
    return test.hypothesis.inner_test  # type: ignore[no-any-return]


def _cli_checkout(work: Path) -> Path:
    checkout = work / "fuzz-checkout"
    git(work, "init", "-q", "-b", "main", str(checkout))
    (checkout / "apps/web").mkdir(parents=True)
    (checkout / "apps/web/rollout.yaml").write_text(ROLLOUT.format(name="web"))
    git(checkout, "add", ".")
    git(checkout, "commit", "-qm", "web")
    return checkout


def props(work: Path) -> list[Prop]:
    checkout = _cli_checkout(work)
    before = (checkout / "apps/web/rollout.yaml").read_bytes()

    def cli_tag(tag: str) -> None:
        res = run_main(
            ["bump-image", tag, "--app", "apps/web", "--no-push", "--dry-run"], "fuzz/cli",
            cwd=checkout,
        )  # fmt: skip
        assert res.code in (0, 2), (tag, res.code, res.err)
        assert res.code == 0 or one_error_line(res.err), res.err
        assert (checkout / "apps/web/rollout.yaml").read_bytes() == before
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=checkout, capture_output=True, text=True
        ).stdout
        assert status == "", status

    def redaction(secret: str, left: str, right: str) -> None:
        output.register_secret(secret)
        try:
            text = output.redact(f"{left}{secret}{right} https://u:{secret}@h/x")
            assert secret not in text, text
        finally:
            output.forget_secrets()

    cli_tags = fi.tags | fi.references() | st.text(max_size=60)
    secrets = st.text(min_size=4, max_size=40).filter(lambda s: s.strip() == s and "*" not in s)
    return [
        Prop("images: parse/format round trip", (fi.references(),),
             _inner(fi.test_parse_format_round_trip)),
        Prop("images: bump keeps the name, drops a stale digest",
             (fi.references(), fi.tags, st.one_of(st.none(), fi.digests)),
             _inner(fi.test_bump_keeps_the_name_and_drops_a_stale_digest)),
        Prop("images: only UsageError",
             (st.text(max_size=80) | fi.references().map(lambda r: r + "\n")
              | st.binary(max_size=40).map(lambda b: b.decode("latin-1")),),
             _inner(fi.test_parser_raises_only_usage_errors)),
        Prop("yamledit: an edit changes only its spans", (fy.files(), st.data()),
             _inner(fy.test_an_edit_changes_only_its_spans_and_reads_back_as_intended)),
        Prop("yamledit: random input raises only YamlError",
             (st.one_of(st.binary(max_size=200),
                        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass"))),),
             _inner(fy.test_random_input_raises_only_yaml_errors)),
        Prop("yamledit: shared images only with --all-aliases",
             (fy.images(), fy.images(), st.sampled_from([0, 2, 4]), fy.tags),
             _inner(fy.test_shared_images_change_only_with_all_aliases)),
        Prop("yamledit: any structure edits only its values",
             (fy.TREES, st.sampled_from([None, True, False]), st.sampled_from([2, 4]),
              st.sampled_from([None, "Pod", "Kustomization"]), fy.tags),
             _inner(fy.test_any_structure_edits_only_its_values)),
        Prop("cli: bump-image TAG exits 0 or 2, writes nothing", (cli_tags,), cli_tag),
        Prop("output: a registered secret never survives redaction",
             (secrets, st.text(max_size=30), st.text(max_size=30)), redaction),
    ]  # fmt: skip


def run(prop: Prop, examples: int) -> int:
    """Run ``prop`` for up to ``examples`` examples; returns how many ran (raises on failure)."""
    count = 0

    def counted(*args: Any) -> None:
        nonlocal count
        prop.body(*args)
        count += 1

    test = _ARITY[len(prop.strategies)](counted)  # @given wants named positional parameters
    runner = settings(
        max_examples=examples, deadline=None, database=None,
        suppress_health_check=list(HealthCheck),
    )(given(*prop.strategies)(test))  # fmt: skip
    runner()
    return count


_ARITY: dict[int, Callable[[Callable[..., None]], Callable[..., None]]] = {
    1: lambda f: lambda a: f(a),
    2: lambda f: lambda a, b: f(a, b),
    3: lambda f: lambda a, b, c: f(a, b, c),
    4: lambda f: lambda a, b, c, d: f(a, b, c, d),
    5: lambda f: lambda a, b, c, d, e: f(a, b, c, d, e),
}


def budgeted(work: Path, seconds: float, slice_seconds: float = 1.0) -> list[Check]:
    """Every property in rounds until ``seconds`` are spent, each getting about the same time
    per round (a fast property runs more examples than the CLI one)."""
    all_props = props(work)
    passed = dict.fromkeys((p.name for p in all_props), 0)
    chunk = dict.fromkeys(passed, 20)
    failed: dict[str, str] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(failed) < len(all_props):
        for prop in all_props:
            if prop.name in failed or time.monotonic() >= deadline:
                continue
            start = time.monotonic()
            try:
                ran = run(prop, chunk[prop.name])
            except Exception as err:  # a falsified property: its message names the example
                failed[prop.name] = f"{type(err).__name__}: {str(err)[:300]}"
                continue
            passed[prop.name] += ran
            rate = ran / max(1e-3, time.monotonic() - start)
            chunk[prop.name] = max(10, min(5000, int(rate * slice_seconds)))
    checks = []
    for name, count in passed.items():
        checks.append(Check("fuzz", f"{name} x{count}", name not in failed, int(name in failed),
                            failed.get(name, f"{count} cases")))  # fmt: skip
    return checks
