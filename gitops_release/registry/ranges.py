"""Pick a tag by a semver range (``--semver '^1.4'``): the highest tag in the registry that
satisfies it, with npm's range rules (``^``, ``~``, ``x``, ``>=``, ``||``, hyphen ranges) from
``node-semver``, the one importer of it. A ``v`` prefix is allowed (``v1.4.2``, as images are
often tagged); tags that are not versions (``latest``, ``main-abc123``) are never candidates.
Pre-releases satisfy a range only when the range names a pre-release of the same
major.minor.patch (npm's rule: ``^1.5.0-rc.0`` admits ``1.5.0-rc.1``, ``^1.4`` admits none).
"""

from __future__ import annotations

from dataclasses import dataclass

import nodesemver

from gitops_release.errors import UsageError


@dataclass(frozen=True)
class Pick:
    range: str
    candidates: list[str]
    """The tags that satisfy the range, highest first."""
    choice: str


def check_range(spec: str) -> str:
    """Refuse (exit 2) a range node-semver cannot read, before anything is asked or cloned."""
    if not spec.strip() or nodesemver.valid_range(spec, True) is None:
        raise UsageError(
            f"--semver {spec!r}: not a semver range",
            hint="e.g. '^1.4' (>=1.4.0 <2), '~1.4.2' (>=1.4.2 <1.5), '>=1.4 <1.6'",
        )
    return spec


def pick_tag(tags: list[str], spec: str, *, image: str) -> Pick:
    """The highest of ``tags`` that satisfies ``spec`` (exit 2 naming the highest versions
    there are when none does)."""
    check_range(spec)
    versions = [t for t in tags if nodesemver.valid(t, True) is not None]
    ordered: list[str] = nodesemver.rsort(versions, True)
    candidates = [t for t in ordered if nodesemver.satisfies(t, spec, loose=True)]
    if not candidates:
        there = ", ".join(ordered[:5]) or "no semver tags at all"
        raise UsageError(
            f"no tag of {image} satisfies {spec!r} (highest: {there})",
            hint="widen the range, or push the image first",
        )
    return Pick(range=spec, candidates=candidates, choice=candidates[0])
