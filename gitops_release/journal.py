"""What this run has changed so far, so that the error boundary can say it.

A command that is interrupted (Ctrl-C, SIGTERM from a cancelled CI job) or fails half-way must say
what state it left (DESIGN.md section 3): "Git holds v5 (commit abc1234); Argo CD was not
refreshed; re-run deploy to continue or rollback to undo". The code that makes a side effect
notes it here, under a key (a later note under the same key replaces the earlier one: "Argo CD
was not refreshed" becomes "Argo CD refreshed"); the orchestration sets the next step. The
boundary (``gitops_release.cli.main``) prints the notes on stderr and puts them in the JSON error.

One run per process at a time (the CLI), so the journal is module state, reset at each run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Journal:
    facts: dict[str, str] = field(default_factory=dict)
    next_step: str | None = None
    changed: bool = False

    def summary(self) -> str:
        """``Git holds ...; Argo CD ...`` or ``nothing was changed``."""
        if not self.facts:
            return "nothing was changed" if not self.changed else "something was changed"
        return "; ".join(self.facts.values())

    def payload(self) -> dict[str, Any]:
        return {"changed": self.changed, "state": dict(self.facts), "next": self.next_step}


_current = Journal()


def reset() -> None:
    global _current
    _current = Journal()


def current() -> Journal:
    return _current


def note(key: str, fact: str, *, changed: bool = True) -> None:
    """Record a fact about the state this run left (``changed``: it is a side effect of ours)."""
    _current.facts[key] = fact
    _current.changed = _current.changed or changed


def next_step(text: str | None) -> None:
    """What to run to continue or undo, should the run stop here."""
    _current.next_step = text
