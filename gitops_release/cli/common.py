"""Options shared by several commands, defined once as ``Annotated`` aliases."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated

import typer

from gitops_release.output import Output


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


@dataclass
class State:
    debug: bool = False
    interrupted: str | None = None  # which signal stopped the run (set by main's handler)
    started: float | None = None  # time.monotonic() when main() began: --timeout counts from it


state = State()


def _set_debug(value: bool) -> bool:
    state.debug = state.debug or value
    return value


DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug", callback=_set_debug, help="Show tracebacks and debug detail on errors."
    ),
]
OutputOpt = Annotated[
    OutputFormat,
    typer.Option(
        "--output", "-o", help="Result format on stdout: text, or json for scripts and CI."
    ),
]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Show what would change (a diff or the files) and change nothing."
    ),
]


def make_output(output: OutputFormat = OutputFormat.text) -> Output:
    return Output(json_mode=output is OutputFormat.json)
