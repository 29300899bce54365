"""The Typer application object and its root options. Command modules attach to ``app``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

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

F = TypeVar("F", bound=Callable[..., Any])
_NO_BREAK = "\u2011"  # a non-breaking hyphen, for the time the help text is wrapped


class _HelpText:
    """Help wrapped between words, never at a hyphen inside one (click's wrapper would cut
    ``gitops-release.toml`` or ``--no-manual-gate`` there): hyphens are swapped for non-breaking
    ones while click wraps, and back in the text it returns."""

    def get_help(self, ctx: Any) -> str:
        texts = [(self, "help"), (self, "epilog")] + [(p, "help") for p in self.params]  # type: ignore[attr-defined]
        saved = [(obj, attr, getattr(obj, attr, None)) for obj, attr in texts]
        for obj, attr, value in saved:
            if isinstance(value, str):
                setattr(obj, attr, value.replace("-", _NO_BREAK))
        try:
            text: str = super().get_help(ctx)  # type: ignore[misc]
        finally:
            for obj, attr, value in saved:
                setattr(obj, attr, value)
        return text.replace(_NO_BREAK, "-")


class Command(_HelpText, typer.core.TyperCommand):
    """Our commands: help as :class:`_HelpText`; usage lines name arguments as the help does
    (``APP``, ``PATH...`` for several), not Typer's ``{APP}``."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, typer.core.TyperArgument):
                pieces.append(_usage_metavar(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


def _usage_metavar(param: typer.core.TyperArgument) -> str:
    name = param.metavar or (param.name or "").upper()
    if name.startswith("["):  # already written as the usage shows it
        return name
    if param.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if param.required else f"[{name}]"


class Group(_HelpText, typer.core.TyperGroup):
    pass


class Typer(typer.Typer):
    """``typer.Typer`` whose groups and commands are :class:`Group` and :class:`Command`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", Group)
        super().__init__(**kwargs)

    def command(self, name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
        kwargs.setdefault("cls", Command)
        return super().command(name, **kwargs)


app = Typer(
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
