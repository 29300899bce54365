"""Commands that only look: ``status [--watch]``, ``list``, ``history``."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from gitops_release.argo.types import Via
from gitops_release.cli.app import app
from gitops_release.cli.common import DebugOpt, OutputFormat, OutputOpt, make_output
from gitops_release.cli.options import (
    CONNECTION_HELP,
    NO_OPTIONS,
    AppArg,
    ArgoOptions,
    NamespaceOpt,
    RolloutOpt,
    RolloutsServerOpt,
    TimeoutOpt,
    ViaOpt,
    argo_options,
)


class ListFormat(enum.StrEnum):
    """``list -o``: ours (text, json) and argocd app list's (wide, yaml, name)."""

    text = "text"
    json = "json"
    wide = "wide"
    yaml = "yaml"
    name = "name"


ListOutputOpt = Annotated[
    ListFormat,
    typer.Option(
        "--output",
        "-o",
        help="text, json; as in argocd app list: wide (adds namespace, project, repo, path, "
        "target revision), yaml (the json document), name (one app per line).",
    ),
]


@app.command(
    "status",
    help=f"""Show the app and its Rollout, like `argocd app get` + `kubectl argo rollouts get rollout`.

No kubeconfig needed: app sync/health/revision, prod and preview URLs (from the IngressRoutes),
then the Rollout tree (revisions, ReplicaSets, Pods; INFO stable,active / preview / delay:29s).
--watch redraws in place in a terminal and prints only changes otherwise (CI logs).

\b
Examples:
  gitops-release status myapp
  gitops-release status myapp --watch
  gitops-release status myapp --output json

{CONNECTION_HELP}""",
)
@argo_options()
def status_command(
    name: AppArg,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Keep watching (Ctrl-C to stop).")
    ] = False,
    timeout: TimeoutOpt = None,
    via: ViaOpt = Via.argocd,
    rollout: RolloutOpt = None,
    namespace: NamespaceOpt = None,
    rollouts_server: RolloutsServerOpt = None,
    argo: ArgoOptions = NO_OPTIONS,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:

    from gitops_release.argo.wait import parse_duration
    from gitops_release.output import color_enabled
    from gitops_release.views import gather as observe
    from gitops_release.views.render import colorize, render_status, status_json
    from gitops_release.views.watch import watch_status

    out = make_output(output)
    conn = argo.connect(timeout=timeout, rollouts_server=rollouts_server)
    conn.bounded = not watch or timeout is not None  # a watch runs until Ctrl-C or --timeout
    if watch:
        watch_status(
            conn,
            name,
            out=out,
            rollout=rollout,
            via=via,
            namespace=namespace,
            duration=parse_duration(timeout) if timeout else None,
        )
        return
    view = observe.status_view(conn, name, rollout=rollout, via=via, namespace=namespace)
    text = render_status(view, conn.now()).rstrip("\n")
    out.emit(colorize(text) if color_enabled(out.out) else text, status_json(view))


@app.command(
    "list",
    help=f"""List Argo CD apps with sync, health and revision, and their Rollouts with strategy,
status and ready/desired (like `argocd app list` + `kubectl argo rollouts list rollouts`).

\b
Examples:
  gitops-release list
  gitops-release list -o wide          (with namespace, project, repo, path, target)
  gitops-release list --project team-a --output json

{CONNECTION_HELP}""",
)
@argo_options()
def list_command(
    argo: ArgoOptions = NO_OPTIONS,
    output: ListOutputOpt = ListFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release.views import gather as observe
    from gitops_release.views.render import list_payload, render_list

    out = make_output(OutputFormat.json if output is ListFormat.json else OutputFormat.text)
    conn = argo.connect()
    rows = observe.list_rows(conn.argocd())
    out.emit(render_list(rows, output.value).rstrip("\n"), list_payload(rows))


@app.command(
    "history",
    help=f"""Deployed revisions of an app, newest first: Argo CD history id, Git commit, time,
who synced, and the image, previous image and author from the release commit's trailers.

\b
Examples:
  gitops-release history myapp
  gitops-release history myapp --output json

{CONNECTION_HELP}""",
)
@argo_options()
def history_command(
    name: AppArg,
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            help="Read the release commits from this checkout or URL. [default: the app's source repo]",
            show_default=False,
        ),
    ] = None,
    argo: ArgoOptions = NO_OPTIONS,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from dataclasses import asdict

    from gitops_release.views import history
    from gitops_release.views.render import render_history

    out = make_output(output)
    conn = argo.connect()
    rows = history.history_rows(conn.argocd(), name, settings=conn.settings, repo=repo, out=out)
    out.emit(render_history(rows).rstrip("\n"), {"app": name, "history": [asdict(r) for r in rows]})
