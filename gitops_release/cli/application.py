"""``app create --file`` (upsert) and ``app delete``: the Argo CD Application itself."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gitops_release.cli.app import Typer, app
from gitops_release.cli.common import DebugOpt, DryRunOpt, OutputFormat, OutputOpt, make_output
from gitops_release.cli.options import (
    CONNECTION_HELP,
    NO_OPTIONS,
    AppArg,
    ArgoOptions,
    TimeoutOpt,
    argo_options,
)

app_group = Typer(
    name="app",
    help="Create or delete the Argo CD Application.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
app.add_typer(app_group, name="app")


@app_group.command(
    "create",
    help=f"""Create or update (upsert) the Argo CD Application(s) in a manifest file.

\b
Examples:
  gitops-release app create --file argocd/myapp.yaml
  gitops-release app create --file argocd/myapp.yaml --output json

{CONNECTION_HELP}""",
)
@argo_options(scoped=False)
def app_create_command(
    file: Annotated[Path, typer.Option("--file", "-f", help="Application manifest (YAML).")],
    argo: ArgoOptions = NO_OPTIONS,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release.release import control

    out = make_output(output)
    conn = argo.connect()
    out.show(control.app_create(conn, file, dry_run=dry_run))


@app_group.command(
    "delete",
    help=f"""Delete an Argo CD Application (and, by default, the resources it manages).

Asks first on a terminal; without one (CI, a pipe) it needs --yes.

\b
Examples:
  gitops-release app delete myapp          (asks first)
  gitops-release app delete myapp --yes --no-cascade --wait

{CONNECTION_HELP}""",
)
@argo_options()
def app_delete_command(
    name: AppArg,
    cascade: Annotated[
        bool, typer.Option("--cascade/--no-cascade", help="Also delete the app's resources.")
    ] = True,
    wait_gone: Annotated[
        bool, typer.Option("--wait", help="Wait until the Application is gone.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Delete without asking (needed when stdin is not a terminal)."
        ),
    ] = False,
    timeout: TimeoutOpt = None,
    argo: ArgoOptions = NO_OPTIONS,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release.release import control

    out = make_output(output)
    conn = argo.connect(timeout=timeout)
    ask = _ask if sys.stdin.isatty() else None
    out.show(
        control.app_delete(
            conn, name, cascade=cascade, wait=wait_gone, dry_run=dry_run, yes=yes, ask=ask
        )
    )


def _ask(question: str) -> bool:
    """A yes/no question on the terminal (stderr: stdout carries results); no by default."""
    try:
        return bool(typer.confirm(question, default=False, err=True))
    except typer.Abort:  # end of input or Ctrl-C at the prompt: not a yes
        return False
