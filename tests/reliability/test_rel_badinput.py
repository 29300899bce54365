"""Bad input: every case of the table exits 2 or 4 (lint findings 1) with one error line and
writes nothing to the repository or the cluster."""

from __future__ import annotations

from pathlib import Path

import rel_badinput


def test_the_table_is_big_enough() -> None:
    assert len(rel_badinput.CASES) >= 60
    assert len({c.name for c in rel_badinput.CASES}) == len(rel_badinput.CASES)


def test_every_case_is_rejected_cleanly(tmp_path: Path) -> None:
    checks = rel_badinput.run_cases(tmp_path)
    assert len(checks) == len(rel_badinput.CASES)
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.held]
    assert not failed, "\n".join(failed)


def test_debug_does_not_leak_into_the_next_in_process_run(tmp_path: Path) -> None:
    """Found by the bench's fuzzing after the secrets paths: one ``--debug`` run made every later
    ``main()`` in the process print a traceback above its one error line."""
    from rel_common import one_error_line, run_main

    first = run_main(["bump-image", "v 2", "--app", "x", "--debug"], "debug", cwd=tmp_path)
    assert first.code == 2 and "Traceback" in first.err
    second = run_main(["bump-image", "v 2", "--app", "x"], "no debug", cwd=tmp_path)
    assert second.code == 2 and one_error_line(second.err)
