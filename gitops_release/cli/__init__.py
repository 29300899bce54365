"""The command line: the only importer of typer, and the one error boundary.

Each command module parses its options and calls one domain function; domain failures are
:class:`~gitops_release.errors.ReleaseError` and become one line on stderr plus an exit code.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from gitops_release import journal, output
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
    "env": "env",
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


def _json_requested(args: Sequence[str]) -> bool:
    """``-o json`` / ``--output json`` / ``--output=json`` / ``-ojson`` anywhere on the line: known
    before click parses it, so that even a usage error answers in JSON."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in ("-o", "--output") and i + 1 < len(args) and args[i + 1] == "json":
            return True
        if arg in ("--output=json", "-ojson", "-o=json"):
            return True
    return False


@dataclass
class _Failure:
    """How a run ended, when it did not end well: what the boundary prints."""

    code: int
    kind: str
    message: str
    hint: str | None = None
    details: dict[str, object] | None = None


def main(argv: Sequence[str] | None = None, prog_name: str | None = None) -> int:
    """Run the CLI and return the exit code (DESIGN.md section 3).

    The one error boundary: a failure prints one line on stderr (``gitops-release: error: what
    (next step)``) and, with ``-o json``, one JSON object on stdout when the command has not
    printed its own (``{"error": {...}, "exit_code": N, "changed": ..., "state": {...}}``: what
    this run changed, from :mod:`gitops_release.journal`). An interrupt (Ctrl-C, SIGTERM) says
    so and what state it left, and exits 130.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    state.debug = False  # --debug is sticky within a run, never from one in-process run to the next
    state.interrupted = None
    state.started = time.monotonic()
    journal.reset()
    output.reset_documents()
    json_mode = _json_requested(args)
    command = click_command(args)
    previous = _install_interrupt_handlers()
    try:
        failure = _run(command, args, prog_name)
    finally:
        _restore_handlers(previous)
    if failure is None:
        return 0
    if failure.message:
        _error(failure.message + (f" ({failure.hint})" if failure.hint else ""))
    if json_mode and not output.documents_written():
        _json_failure(failure, _requested(args))
    return failure.code


def _run(command: object, args: list[str], prog_name: str | None) -> _Failure | None:
    """Run the command; ``None`` when it exited 0, else how it failed (nothing printed yet)."""
    import typer

    try:
        result = command.main(args=args, prog_name=prog_name, standalone_mode=False)  # type: ignore[attr-defined]
    except ReleaseError as err:
        if state.debug:
            _print_traceback()
        return _Failure(int(err.exit_code), type(err).__name__, err.message, err.hint, err.details)
    except (typer.Abort, KeyboardInterrupt):  # click turns EOF on a prompt into Abort
        return _interrupted()
    except typer.Exit as exit_:
        result = exit_.exit_code
    except Exception as err:
        code = getattr(err, "exit_code", None)
        if callable(getattr(err, "format_message", None)) and isinstance(code, int):
            return _usage_failure(err, code)
        if state.debug:
            _print_traceback()
        return _Failure(
            int(ExitCode.INTERNAL),
            "InternalError",
            f"internal error: {type(err).__name__}: {err}",
            "this is a bug; rerun with --debug for the traceback",
        )
    code = int(result) if isinstance(result, int) else 0
    if code == ExitCode.INTERRUPTED or state.interrupted:
        # typer turns KeyboardInterrupt into Exit(130) before it reaches us: the code is all
        # that is left of it (and state.interrupted, set by our signal handler).
        return _interrupted()
    if code == 0:
        return None
    return _Failure(code, "Exit", "")


def _usage_failure(err: Exception, code: int) -> _Failure:
    """click's usage errors (exit 2) in our one error style, naming the help to read."""
    ctx = getattr(err, "ctx", None)
    if type(err).__name__ == "NoArgsIsHelpError":  # a bare command: its help is the answer
        print(err.format_message(), file=sys.stderr)  # type: ignore[attr-defined]
        return _Failure(code, "UsageError", "")
    path = getattr(ctx, "command_path", None) or "gitops-release"
    message = str(err.format_message())  # type: ignore[attr-defined]
    return _Failure(code, "UsageError", message, f"see `{path} --help`")


def _interrupted() -> _Failure:
    what = state.interrupted or "Ctrl-C"
    done = journal.current()
    message = f"interrupted ({what}): {done.summary()}"
    return _Failure(
        int(ExitCode.INTERRUPTED), "Interrupted", message, done.next_step if done.changed else None
    )


def _json_failure(failure: _Failure, command: str | None) -> None:
    import json

    error: dict[str, object] = {"type": failure.kind, "message": redact(failure.message)}
    if failure.hint:
        error["hint"] = redact(failure.hint)
    document: dict[str, object] = {
        "error": error,
        "exit_code": failure.code,
        "command": command,
        **journal.current().payload(),
    }
    if failure.details:
        document["result"] = output.redact_data(failure.details)
    print(json.dumps(document, indent=2), flush=True)


def _install_interrupt_handlers() -> dict[int, object]:
    """SIGINT and SIGTERM (a cancelled CI job, a stopped pod) unwind like Ctrl-C: the commit we
    made but did not push is dropped, a temporary clone removed, and the exit code is 130.
    Python's default for SIGTERM is to die on the spot, leaving a local checkout ahead of its
    remote. The handler notes which signal came, since typer swallows the KeyboardInterrupt."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    previous: dict[int, object] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, _raise_interrupt)
    return previous


def _raise_interrupt(signum: int, frame: object) -> None:
    import signal

    state.interrupted = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
    raise KeyboardInterrupt


def _restore_handlers(previous: dict[int, object]) -> None:
    import signal

    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]
