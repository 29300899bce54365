"""Options for reaching Argo CD and the Rollouts dashboard, defined once as ``Annotated`` aliases.

No option takes a secret as its value: the token comes from ARGOCD_AUTH_TOKEN or a file, the
password from stdin or ARGOCD_PASSWORD (argv is visible to every process on the machine).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from gitops_release.operate import Connection

CONNECTION_HELP = """\b
Connection: --server or ARGOCD_SERVER (https://host, or the argocd CLI's host:port);
token from ARGOCD_AUTH_TOKEN or --auth-token-file, or --username with --password-stdin /
ARGOCD_PASSWORD; else the argocd CLI's current context (~/.config/argocd/config).
ARGOCD_OPTS may hold --insecure, --plaintext, --grpc-web."""

ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server", help="Argo CD server: https://host[:port] or host:port.", show_default=False
    ),
]
AuthTokenFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--auth-token-file", help="Read the Argo CD token from this file.", show_default=False
    ),
]
UsernameOpt = Annotated[
    str | None,
    typer.Option(
        "--username",
        help="Log in as this user (password: --password-stdin or ARGOCD_PASSWORD).",
        show_default=False,
    ),
]
PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the login password from stdin.")
]
InsecureOpt = Annotated[bool, typer.Option("--insecure", help="Skip TLS certificate verification.")]
PlaintextOpt = Annotated[
    bool, typer.Option("--plaintext", help="Use http:// for a host:port server.")
]
GrpcWebOpt = Annotated[
    bool,
    typer.Option(
        "--grpc-web", help="Accepted for argocd CLI compatibility (REST needs no gRPC-web)."
    ),
]
CaBundleOpt = Annotated[
    Path | None,
    typer.Option("--ca-bundle", help="PEM file of CA certificates to trust.", show_default=False),
]
ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "--project",
        help="Argo CD project of the app (tells not-found from forbidden).",
        show_default=False,
    ),
]
AppNamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--app-namespace",
        help="Namespace of the Application (apps in any namespace).",
        show_default=False,
    ),
]
TimeoutOpt = Annotated[
    str | None,
    typer.Option(
        "--timeout",
        help="Give up after this long (90s, 10m, 1h). [default: 10m]",
        show_default=False,
    ),
]
RolloutOpt = Annotated[
    str | None,
    typer.Option("--rollout", help="Which Rollout, when the app has several.", show_default=False),
]


def connection(
    *,
    server: str | None,
    auth_token_file: Path | None,
    username: str | None,
    password_stdin: bool,
    insecure: bool,
    plaintext: bool,
    ca_bundle: Path | None,
    project: str | None,
    app_namespace: str | None,
    timeout: str | None = None,
    rollouts_server: str | None = None,
) -> Connection:
    from gitops_release.operate import Connection
    from gitops_release.wait import parse_duration

    flags = {
        "argocd_server": server,
        "argocd_username": username,
        "insecure": True if insecure else None,
        "plaintext": True if plaintext else None,
        "ca_bundle": str(ca_bundle) if ca_bundle else None,
        "project": project,
        "app_namespace": app_namespace,
        "timeout": parse_duration(timeout) if timeout else None,
        "rollouts_server": rollouts_server,
    }
    return Connection(flags=flags, token_file=auth_token_file, password_stdin=password_stdin)
