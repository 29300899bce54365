"""Faults: each ends in a named state, the remote holds all or nothing, a re-run finishes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import rel_faults_argo
import rel_faults_git
from rel_common import Check

SCENARIOS = rel_faults_git.SCENARIOS + rel_faults_argo.SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_fault_recovers(scenario: Callable[[Path], list[Check]], tmp_path: Path) -> None:
    checks = scenario(tmp_path)
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.held]
    assert checks and not failed, "\n".join(failed)
