"""Options several commands share, defined once as ``Annotated`` aliases: the app argument, how to
reach Argo CD and the Rollouts dashboard, which Rollout, the timeout and the release record.
(``--output``, ``--debug`` and ``--dry-run``, which every kind of command has, are in ``common``.)

No option takes a secret as its value: the token comes from ARGOCD_AUTH_TOKEN or a file, the
password from stdin or ARGOCD_PASSWORD (argv is visible to every process on the machine).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from gitops_release.argo.types import Via
from gitops_release.cli.common import state

if TYPE_CHECKING:
    from gitops_release.argo.connection import Connection

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


def complete_app(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of an app name: Argo CD's Applications, asked with the connection options
    typed so far, one attempt within a short timeout, nothing on failure."""
    from gitops_release.views.completion import COMPLETION_TIMEOUT, app_names

    given = ctx.params
    try:
        conn = connection(
            server=given.get("server"), auth_token_file=given.get("auth_token_file"),
            username=given.get("username"), password_stdin=False,  # never read stdin on a TAB
            insecure=bool(given.get("insecure")), plaintext=bool(given.get("plaintext")),
            ca_bundle=given.get("ca_bundle"), project=given.get("project"),
            app_namespace=given.get("app_namespace"), timeout=COMPLETION_TIMEOUT,
            extra={"http_retries": 0},
        )  # fmt: skip
    except Exception:  # a bad value typed so far: nothing to offer
        return []
    return app_names(conn, incomplete)


AppArg = Annotated[
    str,
    typer.Argument(metavar="APP", help="Argo CD Application name.", autocompletion=complete_app),
]
ViaOpt = Annotated[
    Via,
    typer.Option(
        "--via",
        help="argocd: Argo CD resource actions (needs only the Argo CD token); dashboard: the Rollouts dashboard API (ROLLOUTS_SERVER).",
    ),
]
RolloutsServerOpt = Annotated[
    str | None,
    typer.Option(
        "--rollouts-server",
        help="Rollouts dashboard URL [env: ROLLOUTS_SERVER].",
        show_default=False,
    ),
]
NamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        help="Rollout namespace for --via dashboard without Argo CD.",
        show_default=False,
    ),
]
VerifyImageOpt = Annotated[
    str | None,
    typer.Option(
        "--verify-image",
        metavar="on|warn|off",
        help="Ask the image's registry first that the tag exists (missing: exit 2, refused or "
        "unreachable: exit 4; warn: say so and go on). [default: on; env: GITOPS_RELEASE_VERIFY_IMAGE]",
        show_default=False,
    ),
]
InsecureRegistryOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--insecure-registry",
        metavar="HOST",
        help="A registry without (valid) TLS: HTTPS unverified, else plain HTTP (repeatable; "
        "localhost and 127.* are always so).",
        show_default=False,
    ),
]

PinDigestOpt = Annotated[
    bool,
    typer.Option(
        "--pin-digest",
        help="Ask the registry for the tag's digest and write image:tag@sha256:... (and a "
        "Release-Digest trailer).",
    ),
]

SemverOpt = Annotated[
    str | None,
    typer.Option(
        "--semver",
        metavar="RANGE",
        help="Pick the highest tag in the registry satisfying RANGE (npm rules: '^1.4', '~1.4.2'; "
        "pre-releases only when RANGE names one).",
        show_default=False,
    ),
]


def registry_flags(verify_image: str | None, insecure_registry: list[str] | None) -> dict[str, Any]:
    """The settings the registry check takes from the command line."""
    return {
        "verify_image": verify_image,
        "insecure_registry": ",".join(insecure_registry) if insecure_registry else None,
    }


RecordOpt = Annotated[
    Path | None,
    typer.Option("--record", help="Write a JSON release record to this file.", show_default=False),
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
    extra: dict[str, Any] | None = None,
) -> Connection:
    from gitops_release.argo.connection import Connection
    from gitops_release.argo.wait import parse_duration

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
        **(extra or {}),
    }
    conn = Connection(flags=flags, token_file=auth_token_file, password_stdin=password_stdin)
    if state.started is not None:  # --timeout counts from when the command was run
        conn.started = state.started
    return conn


@dataclass(frozen=True)
class ArgoOptions:
    """The Argo CD connection options of one command line, as given (no secret among them)."""

    server: str | None = None
    auth_token_file: Path | None = None
    username: str | None = None
    password_stdin: bool = False
    insecure: bool = False
    plaintext: bool = False
    grpc_web: bool = False
    ca_bundle: Path | None = None
    project: str | None = None
    app_namespace: str | None = None

    def connect(
        self,
        *,
        timeout: str | None = None,
        rollouts_server: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Connection:
        return connection(
            server=self.server, auth_token_file=self.auth_token_file, username=self.username,
            password_stdin=self.password_stdin, insecure=self.insecure, plaintext=self.plaintext,
            ca_bundle=self.ca_bundle, project=self.project, app_namespace=self.app_namespace,
            timeout=timeout, rollouts_server=rollouts_server, extra=extra,
        )  # fmt: skip


NO_OPTIONS = ArgoOptions()
"""The default of a command's ``argo`` parameter (replaced by :func:`argo_options`)."""

_OPTION_TYPES: dict[str, Any] = {
    "server": ServerOpt,
    "auth_token_file": AuthTokenFileOpt,
    "username": UsernameOpt,
    "password_stdin": PasswordStdinOpt,
    "insecure": InsecureOpt,
    "plaintext": PlaintextOpt,
    "grpc_web": GrpcWebOpt,
    "ca_bundle": CaBundleOpt,
    "project": ProjectOpt,
    "app_namespace": AppNamespaceOpt,
}
_UNSCOPED = ("project", "app_namespace")
F = TypeVar("F", bound=Callable[..., Any])


class _ArgoSignature:
    """The signature Typer sees for an :func:`argo_options` command, computed on first use."""

    def __init__(self, func: Callable[..., Any], names: list[str]) -> None:
        self.func, self.names = func, names

    @functools.cached_property
    def __signature__(self) -> inspect.Signature:
        sig = inspect.signature(self.func, eval_str=True)
        options = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=ArgoOptions.__dataclass_fields__[name].default,
                annotation=_OPTION_TYPES[name],
            )
            for name in self.names
        ]
        params: list[inspect.Parameter] = []
        for param in sig.parameters.values():
            if param.name == "argo":
                params.extend(options)
            else:
                params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY))
        if len(params) == len(sig.parameters):
            raise TypeError(f"{self.func.__name__} declares no 'argo' parameter")
        return sig.replace(parameters=params)


def argo_options(*, scoped: bool = True) -> Callable[[F], F]:
    """Give a command the Argo CD connection options, defined once here.

    The command declares one parameter ``argo: ArgoOptions``; Typer sees, in its place, the
    options ``--server`` ... ``--app-namespace`` (without ``--project``/``--app-namespace`` when
    ``scoped`` is false), and the command receives them gathered into ``argo``.
    """

    def decorate(func: F) -> F:
        names = [f.name for f in fields(ArgoOptions) if scoped or f.name not in _UNSCOPED]

        def command(**kwargs: Any) -> Any:
            argo = ArgoOptions(**{name: kwargs.pop(name) for name in names})
            return func(**kwargs, argo=argo)

        command.__name__, command.__doc__ = func.__name__, func.__doc__
        command.__module__, command.__qualname__ = func.__module__, func.__qualname__
        # inspect.signature() follows __wrapped__ to the first object with a __signature__:
        # the rewritten signature is built when Typer builds this command, not at import
        # (the root --help lists every command without building any).
        command.__wrapped__ = _ArgoSignature(func, names)  # type: ignore[attr-defined]
        command.__annotations__ = {}  # the signature carries them (evaluated)
        return command  # type: ignore[return-value]

    return decorate
