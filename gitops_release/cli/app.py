"""The Typer application object and its root options. Command modules attach to ``app``."""

from __future__ import annotations

from typing import Annotated

import typer

from gitops_release import __version__
from gitops_release.cli.common import DebugOpt, state
from gitops_release.errors import EXIT_CODE_HELP

HELP = """Blue-green releases with Argo CD and Argo Rollouts, GitOps-style.

Scaffold an app, bump its image in Git, let Argo CD sync, verify the preview, promote,
roll back or abort: safely, by hand or from GitLab CI.

\b
Typical flow:
  gitops-release scaffold myapp --image ikubernetes/myapp:v1 --prod-host prod.myapp.com --preview-host test.myapp.com
  release bump-image v2 --app myapp

Settings: flag > GITOPS_RELEASE_* / ARGOCD_* environment > gitops-release.toml > argocd CLI config > default.
"""

EPILOG = "\b\nExit codes:\n" + EXIT_CODE_HELP

app = typer.Typer(
    name="gitops-release",
    help=HELP,
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help text: rich panels roughly double the cost of --help (bench/startup.py).
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gitops-release {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Blue-green releases with Argo CD and Argo Rollouts, GitOps-style."""
    state.debug = state.debug or debug
