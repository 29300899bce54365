"""The existing tags nearest to a missing one (pure): versions by semantic distance first, then
every tag by edit distance, so ``v1.4.3`` suggests ``v1.4.2`` and ``lateset`` suggests ``latest``."""

from __future__ import annotations

import re

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?$")


def _version(tag: str) -> tuple[int, int, int] | None:
    match = _VERSION.match(tag)
    if not match:
        return None
    return tuple(int(g or 0) for g in match.groups())  # type: ignore[return-value]


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def nearest_tags(wanted: str, tags: list[str], limit: int = 5) -> list[str]:
    want = _version(wanted)

    def key(tag: str) -> tuple[int, tuple[int, int, int], int, str]:
        have = _version(tag)
        if want is not None and have is not None:
            distance = tuple(abs(x - y) for x, y in zip(want, have, strict=True))
            return (0, distance, edit_distance(wanted, tag), tag)  # type: ignore[return-value]
        return (1, (0, 0, 0), edit_distance(wanted, tag), tag)

    return sorted(set(tags), key=key)[:limit]
