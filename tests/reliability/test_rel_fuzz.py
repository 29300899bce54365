"""Fuzz: the shared Hypothesis properties, a few examples each (the bench runs thousands)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import rel_fuzz

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
NAMES = [
    "images: parse/format round trip",
    "images: bump keeps the name, drops a stale digest",
    "images: only UsageError",
    "yamledit: an edit changes only its spans",
    "yamledit: random input raises only YamlError",
    "yamledit: shared images only with --all-aliases",
    "yamledit: any structure edits only its values",
    "cli: bump-image TAG exits 0 or 2, writes nothing",
    "output: a registered secret never survives redaction",
]


@pytest.mark.parametrize("name", NAMES)
def test_property_holds(name: str, tmp_path: Path) -> None:
    (prop,) = [p for p in rel_fuzz.props(tmp_path) if p.name == name]
    assert rel_fuzz.run(prop, EXAMPLES) > 0
