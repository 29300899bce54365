"""Hints name the real app: ``gitops-release retry myapp``, never the placeholder ``APP`` (which
only help text uses, as the usage line does)."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gitops_release"
# a command in single backticks, as hints write them (docstrings use ``double`` ones)
PLACEHOLDER = re.compile(r"(?<!`)`(?:gitops-release )?[a-z-]+ [^`]*\bAPP\b[^`]*`(?!`)")


def test_no_message_outside_the_help_says_APP() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
        for path in PACKAGE.rglob("*.py")
        if not {"cli", "sandbox"} & set(path.relative_to(PACKAGE).parts)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PLACEHOLDER.search(line)
    ]
    assert found == []
