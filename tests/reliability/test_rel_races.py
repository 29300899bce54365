"""Races: 16 writers on 16 apps, 16 compare-and-swaps on one app, two deploys of one app."""

from __future__ import annotations

from pathlib import Path

import pytest
import rel_races
from rel_common import Check


def _assert_held(checks: list[Check]) -> None:
    failed = [f"{c.name}: {c.detail}" for c in checks if not c.held]
    assert not failed, "\n".join(failed)


@pytest.mark.slow
def test_sixteen_processes_on_sixteen_apps_all_land_byte_exact(tmp_path: Path) -> None:
    checks = rel_races.sixteen_apps(tmp_path)
    assert len(checks) == 16
    _assert_held(checks)


@pytest.mark.slow
def test_sixteen_compare_and_swaps_exactly_one_lands(tmp_path: Path) -> None:
    checks = rel_races.sixteen_compare_and_swap(tmp_path)
    assert len(checks) == 16
    _assert_held(checks)


def test_two_deploys_at_once_one_refuses(tmp_path: Path) -> None:
    _assert_held(rel_races.two_deploys(tmp_path))
