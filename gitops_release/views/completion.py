"""What shell completion offers that only Argo CD knows: the names of its Applications."""

from __future__ import annotations

from gitops_release.argo.connection import Connection

COMPLETION_TIMEOUT = "2s"
"""The most a TAB may wait for Argo CD (one attempt, no retry): past it, nothing is offered."""


def app_names(conn: Connection, prefix: str = "") -> list[str]:
    """The Applications' names starting with ``prefix``, sorted; ``[]`` when Argo CD cannot be
    asked (no server, no token, refused, slow): completion never prints an error or waits long."""
    try:
        names = sorted(app.name for app in conn.argocd().list_apps())
    except Exception:  # silent by design: a shell completion has no place to say what went wrong
        return []
    return [name for name in names if name.startswith(prefix)]
