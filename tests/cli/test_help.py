"""--help builds only what it shows, and shows exactly what Typer would build from the whole app."""

from __future__ import annotations

import contextlib
import io

import pytest
import typer

from gitops_release import cli

ROOT_COMMANDS = sorted(cli.COMMANDS)


def _typer_output(args: list[str]) -> tuple[int, str, str]:
    """What the plain Typer app (every command built) prints for ``args``."""
    cli.load_commands()
    command = typer.main.get_command(cli.app)
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            command.main(args=args, prog_name="gitops-release", standalone_mode=False)
        except typer.Exit as exit_:
            code = exit_.exit_code
        except Exception as exc:  # click's usage errors
            exc.show()  # type: ignore[attr-defined]
            code = exc.exit_code  # type: ignore[attr-defined]
    return code, out.getvalue(), err.getvalue()


def _our_output(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args, prog_name="gitops-release")
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        [],
        ["no-such-command"],
        *[[name, "--help"] for name in ROOT_COMMANDS],
        ["app", "create", "--help"],
        ["sandbox", "up", "--help"],
    ],
    ids=lambda a: " ".join(a) or "(no args)",
)
def test_help_is_byte_identical_to_the_whole_typer_app(args: list[str]) -> None:
    assert _our_output(args) == _typer_output(args)


def test_root_help_builds_no_command_options() -> None:
    group = cli.click_command(["--help"])
    assert sorted(group.commands) == ROOT_COMMANDS
    for name, command in group.commands.items():
        assert command.params == [], name  # a listing stand-in: name and help only
        assert command.help, name


def test_a_named_command_builds_only_itself() -> None:
    cli.load_commands()  # even when every command module is already imported
    group = cli.click_command(["sync", "--help"])
    assert list(group.commands) == ["sync"]
    assert {p.name for p in group.commands["sync"].params} >= {"name", "timeout"}
