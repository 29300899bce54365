"""--help builds only what it shows, and shows exactly what Typer would build from the whole app."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
import typer

from gitops_release import cli

ROOT_COMMANDS = sorted(cli.COMMANDS)


def _typer_output(args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """What the plain Typer app (every command built) prints for ``args``, through the same
    error boundary (``main``: usage errors in our one error style, exit 2)."""

    def whole_app(argv: list[str]) -> object:
        cli.load_commands()
        return typer.main.get_command(cli.app)

    with monkeypatch.context() as m:
        m.setattr(cli, "click_command", whole_app)
        return _our_output(args)


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
def test_help_is_byte_identical_to_the_whole_typer_app(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _our_output(args) == _typer_output(args, monkeypatch)


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


# Flags the README mentions that belong to other tools (the command they go with).
OTHER_TOOLS = {
    "--allow-empty": "git commit",
    "--bare": "git init",
    "--index-url": "pip install",
    "--no-install-recommends": "apt-get install",
}


def test_every_flag_the_readme_mentions_exists() -> None:
    """The README's claims checked (issue 14, Must show): every ``--flag`` it names is an option
    of some command (or, listed above, of the other tool it is shown with)."""
    import re

    from tests.conftest import REPO_ROOT, every_option

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", readme))
    options = every_option() | {"--help"}
    assert sorted(mentioned - options - set(OTHER_TOOLS)) == []
    assert sorted(set(OTHER_TOOLS) - mentioned) == []  # no stale exception


def _command_paths() -> list[list[str]]:
    """Every command line that has a help page: the root, each group, each command."""
    cli.load_commands()

    def walk(command: object, path: list[str]) -> list[list[str]]:
        found = [path]
        for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
            found += walk(sub, [*path, name])
        return found

    return walk(typer.main.get_command(cli.app), [])


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "(root)")
def test_every_help_page_reads_cleanly(path: list[str]) -> None:
    code, out, err = _our_output([*path, "--help"])
    assert code == 0, err
    usage = out.splitlines()[0]
    assert not re.search(r"\{[A-Z_]+\}", usage), usage  # APP, not {APP}
    # a word is never cut at its hyphen: gitops-\nrelease.toml, --no-\nmanual-gate
    assert not re.search(r"\w-\n\s*\w", out), re.findall(r".*\w-\n\s*\w.*", out)
    assert [line for line in out.splitlines() if line != line.rstrip()] == []
    flat = " ".join(out.split())
    assert not re.search(r"\(required\)\.? \[required\]", flat)  # said once
    group = cli.click_command([*path, "--help"])
    command: object = group
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    for param in getattr(command, "params", []):
        if param.param_type_name == "argument" and param.nargs == -1:
            name = (param.metavar or param.name.upper()).strip("[].")
            assert f"{name}..." in usage.replace("]", ""), usage  # several PATHs
