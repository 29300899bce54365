"""The command line: the only importer of typer, and the one error boundary.

Each command module parses its options and calls one domain function; domain failures are
:class:`~gitops_release.errors.ReleaseError` and become one line on stderr plus an exit code.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from gitops_release.cli.app import app
from gitops_release.cli.common import state
from gitops_release.errors import ExitCode, ReleaseError
from gitops_release.output import redact

if TYPE_CHECKING:
    import typer

__all__ = ["app", "main"]

# Command modules register themselves on ``app`` when imported. Keep them light: heavy
# libraries (GitPython, requests, ruamel.yaml) are imported inside the command functions.
# Only the module of the command being run is imported (building every command costs about as
# much as importing typer itself, bench/startup.py); --help, completion and unknown names load all.
COMMANDS: dict[str, str] = {
    "scaffold": "scaffold",
    "lint": "lint",
    "bump-image": "bump",
    "app": "application",
    "sync": "control",
    "wait": "control",
    "promote": "control",
    "abort": "rollback",
    "retry": "control",
    "restart": "control",
    "status": "views",
    "list": "views",
    "history": "views",
    "sandbox": "sandbox",
    "deploy": "deploy",
    "verify": "deploy",
    "rollback": "rollback",
}
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(COMMANDS.values()))


def _requested(args: Sequence[str]) -> str | None:
    """The command named on the command line (root options take no values)."""
    return next((arg for arg in args if not arg.startswith("-")), None)


def load_commands(args: Sequence[str] = ()) -> None:
    """Import the command module(s) needed to run ``args``; all of them when in doubt."""
    import os

    name = _requested(args)
    completing = any(key.endswith("_COMPLETE") and key.startswith("_") for key in os.environ)
    if completing:
        modules = COMMAND_MODULES
    elif name in COMMANDS:
        modules = (COMMANDS[name],)
    elif name is None and "--version" in args:
        modules = ()  # eager: answered before any command would be looked at
    else:
        modules = COMMAND_MODULES
    for module in modules:
        importlib.import_module(f"gitops_release.cli.{module}")


def click_command(args: Sequence[str]) -> typer.core.TyperGroup:
    """The click command that runs ``args``, building only what they need.

    Typer turns every parameter of every registered command into click objects, which costs
    about half of ``import typer`` for all commands (bench/startup.py). A named command gets a
    group with that one command; the root ``--help`` (and an unknown name) gets listing-only
    stand-ins, which carry each command's help text and nothing else. Completion builds all.
    """
    import copy
    import os

    import typer

    load_commands(args)
    name = _requested(args)
    if any(key.endswith("_COMPLETE") and key.startswith("_") for key in os.environ):
        return cast("typer.core.TyperGroup", typer.main.get_command(app))
    view = copy.copy(app)
    if name in COMMANDS:
        view.registered_commands = [c for c in app.registered_commands if c.name == name]
        view.registered_groups = [g for g in app.registered_groups if g.name == name]
    else:
        view.registered_commands = [_listing_only(c) for c in app.registered_commands]
        view.registered_groups = [_listing_only_group(g) for g in app.registered_groups]
    # the root callback makes it a group; get_command adds the completion options
    return cast("typer.core.TyperGroup", typer.main.get_command(view))


def _listing_only(info: typer.models.CommandInfo) -> typer.models.CommandInfo:
    """A stand-in for a command in the root help: its name and help, no parameters."""
    import copy
    import inspect

    stub = copy.copy(info)
    if stub.help is None and info.callback is not None:
        stub.help = inspect.getdoc(info.callback)
    stub.callback = _not_run
    return stub


def _listing_only_group(info: typer.models.TyperInfo) -> typer.models.TyperInfo:
    import copy

    stub = copy.copy(info)
    if info.typer_instance is not None:
        stub.typer_instance = copy.copy(info.typer_instance)
        stub.typer_instance.registered_commands = []
        stub.typer_instance.registered_groups = []
    return stub


def _not_run() -> None:  # pragma: no cover - a listing stand-in is never invoked
    raise AssertionError("a listing-only command was run")


def _print_traceback() -> None:
    import traceback  # costs ~25 ms at start-up: only when --debug needs it

    traceback.print_exc()


def _error(line: str) -> None:
    print(f"gitops-release: error: {redact(line)}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None, prog_name: str | None = None) -> int:
    """Run the CLI and return the exit code (DESIGN.md section 3)."""
    import typer

    args = list(sys.argv[1:] if argv is None else argv)
    state.debug = False  # --debug is sticky within a run, never from one in-process run to the next
    command = click_command(args)
    previous = _interrupt_on_sigterm()
    try:
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)
    except ReleaseError as err:
        if state.debug:
            _print_traceback()
        _error(str(err))
        return int(err.exit_code)
    except typer.Abort:  # click turns KeyboardInterrupt into Abort
        _error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        _error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except typer.Exit as exit_:
        return int(exit_.exit_code)
    except Exception as err:
        show = getattr(err, "show", None)
        code = getattr(err, "exit_code", None)
        if callable(show) and isinstance(code, int):  # click's usage errors (exit 2)
            show()
            return code
        if state.debug:
            _print_traceback()
        else:
            _error(
                f"internal error: {type(err).__name__}: {err} (this is a bug; rerun with --debug for the traceback)"
            )
        return int(ExitCode.INTERNAL)
    finally:
        _restore_sigterm(previous)
    return int(result) if isinstance(result, int) else 0


def _interrupt_on_sigterm() -> object:
    """SIGTERM (a cancelled CI job, a stopped pod) unwinds like Ctrl-C: the commit we made but
    did not push is dropped, a temporary clone removed, and the exit code is 130. Python's
    default for SIGTERM is to die on the spot, leaving a local checkout ahead of its remote."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _restore_sigterm(previous: object) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]
