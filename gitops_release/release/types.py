"""Light enums the command line needs at start-up (no heavy import)."""

from __future__ import annotations

import enum


class OnFailure(enum.StrEnum):
    revert = "revert"
    abort_only = "abort-only"
    none = "none"
