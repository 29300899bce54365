"""Light enums the command line needs at start-up (no heavy import): how to reach a Rollout, what to do to it, what to wait for."""

from __future__ import annotations

import enum


class Via(enum.StrEnum):
    argocd = "argocd"
    dashboard = "dashboard"


class Action(enum.StrEnum):
    promote = "promote"
    promote_full = "promote-full"
    abort = "abort"
    retry = "retry"
    restart = "restart"


class Target(enum.StrEnum):
    synced = "synced"
    preview_ready = "preview-ready"
    released = "released"
