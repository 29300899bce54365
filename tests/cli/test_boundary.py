"""The error boundary over every command (issue 14, items 2 and 5, and click's usage errors):

- with ``-o json`` every failing exit writes exactly one JSON object on stdout,
  ``{"error": {...}, "exit_code": N, "changed": ..., "state": {...}}``;
- an interrupt (Ctrl-C or SIGTERM, delivered as a real signal while the command runs) says it was
  interrupted and what state it left, exits 130, and answers in JSON too with ``-o json``.

Each table holds every command of the CLI (a test checks that), so a new command cannot slip by.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer

from gitops_release import cli
from gitops_release.cli import app, load_commands, main
from tests.conftest import Env

# Commands that answer no result (they run a server or a walk-through): no -o json, and an
# interrupt is how ``sandbox up`` stops.
NO_RESULT = {"sandbox up", "sandbox demo"}


def _leaf_commands() -> set[str]:
    load_commands()
    found: set[str] = set()

    def walk(command: Any, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found.add(" ".join(path))

    walk(typer.main.get_command(app), [])
    return found


# command -> argv (after the command) that fails without changing anything, against a running
# sandbox with no Application: {repo} is the GitOps checkout, {tmp} a scratch directory.
FAILING: dict[str, tuple[list[str], int]] = {
    "scaffold": (
        [
            "Not_A_Name!",
            "--image",
            "ikubernetes/myapp:v1",
            "--prod-host",
            "p.example.com",
            "--preview-host",
            "t.example.com",
            "--repo-dir",
            "{tmp}",
        ],
        2,
    ),
    "lint": (["{tmp}/nothing-here"], 2),
    "bump-image": (["v2", "--app", "no-such-dir", "--repo", "{repo}"], 2),
    "sync": (["nosuchapp"], 4),
    "wait": (["nosuchapp", "--timeout", "5s"], 4),
    "retry": (["nosuchapp"], 4),
    "restart": (["nosuchapp"], 4),
    "promote": (["nosuchapp"], 4),
    "abort": (["nosuchapp"], 4),
    "rollback": (["nosuchapp"], 4),
    "status": (["nosuchapp"], 4),
    "list": (["--auth-token-file", "{tmp}/bad-token"], 4),
    "history": (["nosuchapp"], 4),
    "deploy": (["v2", "--app", "nosuchapp"], 4),
    "verify": (["nosuchapp", "--preview"], 4),
    "app create": (["--file", "{tmp}/no-such-app.yaml"], 2),
    "app delete": (["nosuchapp", "--yes"], 4),
    "env status": ([], 2),  # no gitops-release.toml: no environments
    "env promote": (["myapp", "--from", "staging", "--to", "prod"], 2),
}
# the environments the interrupted `env` commands read (myapp is the staging and prod app)
ENV_CONFIG = """[[environments]]
name = "staging"
application = "{app}"

[[environments]]
name = "prod"
applications = { myapp = "myapp" }
"""


def test_every_command_is_in_the_tables() -> None:
    assert set(FAILING) | NO_RESULT == _leaf_commands()
    assert set(INTERRUPTED) | NO_RESULT == _leaf_commands()


def _argv(command: str, args: list[str], env: Env) -> list[str]:
    fill = {"repo": str(env.repo), "tmp": str(env.tmp)}
    return [*command.split(), *(a.format(**fill) for a in args)]


def _one_json_object(out: str) -> dict[str, Any]:
    document = json.loads(out)  # raises when stdout holds nothing, or more than one object
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("command", sorted(FAILING))
def test_json_on_every_failure(command: str, env: Env) -> None:
    (env.tmp / "bad-token").write_text("not-a-token\n")
    args, expected = FAILING[command]
    argv = _argv(command, args, env)
    code, out, err = env.cli(*argv, "-o", "json")
    assert code == expected, err
    document = _one_json_object(out)
    assert document["exit_code"] == code
    assert document["error"]["message"], document
    assert document["error"]["message"] in err  # the same words on stderr
    assert document["changed"] is False and "state" in document


def test_json_on_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["deploy", "v2", "--app", "myapp", "--no-such-flag", "-o", "json"])
    captured = capsys.readouterr()
    assert code == 2
    document = _one_json_object(captured.out)
    assert document["error"]["type"] == "UsageError"
    assert "--no-such-flag" in document["error"]["message"]
    # one error style: ours, naming the help to read (not click's "Usage: ... Error: ...")
    assert captured.err.startswith("gitops-release: error: No such option: --no-such-flag")
    assert "--help" in captured.err and "Usage:" not in captured.err


def test_json_not_doubled_when_the_command_printed_its_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """lint prints its findings as its JSON result, then exits 1: one object, not two."""
    (tmp_path / "rollout.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: x\nspec: {}\n"
    )
    code = main(["lint", str(tmp_path), "-o", "json"])
    document = _one_json_object(capsys.readouterr().out)
    assert code == 1 and "findings" in document


# --- interrupts -----------------------------------------------------------------------------

ARGO = ("gitops_release.argo.http", "Client._send")
# command -> (argv, where the signal arrives: module and attribute of a function the command calls)
INTERRUPTED: dict[str, tuple[list[str], tuple[str, str]]] = {
    "scaffold": (
        [
            "myapp",
            "--image",
            "ikubernetes/myapp:v1",
            "--prod-host",
            "p.example.com",
            "--preview-host",
            "t.example.com",
            "--repo-dir",
            "{tmp}",
        ],
        ("gitops_release.scaffold.write", "scaffold"),
    ),
    "lint": (["{repo}/myapp"], ("gitops_release.lint.check", "lint_paths")),
    "bump-image": (
        ["v2", "--app", "myapp", "--repo", "{repo}"],
        ("gitops_release.git.push", "push_refspec"),
    ),
    "sync": (["myapp"], ARGO),
    "wait": (["myapp"], ARGO),
    "retry": (["myapp"], ARGO),
    "restart": (["myapp"], ARGO),
    "promote": (["myapp"], ARGO),
    "abort": (["myapp"], ARGO),
    "rollback": (["myapp"], ARGO),
    "status": (["myapp"], ARGO),
    "list": ([], ARGO),
    "history": (["myapp"], ARGO),
    "deploy": (["v2", "--app", "myapp"], ARGO),
    "verify": (["myapp", "--preview"], ARGO),
    "app create": (["--file", "{tmp}/myapp-app.yaml"], ARGO),
    "app delete": (["myapp", "--yes"], ARGO),
    "env status": (["myapp"], ARGO),
    "env promote": (["myapp", "--from", "staging", "--to", "prod"], ARGO),
}


def _signal_on_first_call(
    monkeypatch: pytest.MonkeyPatch, where: tuple[str, str], signum: int
) -> None:
    """Deliver ``signum`` to this process when the command first calls ``where``: a real
    signal, handled by whatever handler the CLI installed, as a Ctrl-C or a CI cancel would be."""
    import importlib

    module = importlib.import_module(where[0])
    owner: Any = module
    *parents, name = where[1].split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original: Callable[..., Any] = getattr(owner, name)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        signal.raise_signal(signum)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, interrupted)


@pytest.mark.parametrize("command", sorted(INTERRUPTED))
def test_interrupt_says_so_on_every_command(
    command: str, git_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = git_env
    env.create_app()
    args, where = INTERRUPTED[command]
    argv = _argv(command, args, env)
    if command.startswith("env "):
        (env.tmp / "gitops-release.toml").write_text(ENV_CONFIG)
        monkeypatch.chdir(env.tmp)
    signum = signal.SIGTERM if len(command) % 2 else signal.SIGINT
    _signal_on_first_call(monkeypatch, where, signum)
    code, out, err = env.cli(*argv, "-o", "json")
    name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
    assert code == 130, err
    assert f"gitops-release: error: interrupted ({name})" in err
    document = _one_json_object(out)
    assert document["exit_code"] == 130
    assert document["error"]["type"] == "Interrupted"
    # what state it left: nothing, or what was changed
    assert ("nothing was changed" in err) == (document["changed"] is False)
    # the signal handlers are given back after the run
    assert signal.getsignal(signal.SIGTERM) is not cli._raise_interrupt
    assert signal.getsignal(signal.SIGINT) is not cli._raise_interrupt


def test_interrupted_deploy_says_what_git_holds_and_what_to_run(
    live_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted after the push, while refreshing Argo CD: Git holds the new tag, Argo CD was
    not refreshed, and the next step is named (re-run deploy, or rollback)."""
    import gitops_release.argo.http as http

    original = http.Client._send

    def send(self: http.Client, method: str, url: str, **kwargs: Any) -> Any:
        if "refresh=" in url:
            signal.raise_signal(signal.SIGTERM)
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(http.Client, "_send", send)
    code, _out, err = live_env.cli("deploy", "v2", "--app", "myapp")
    assert code == 130
    line = next(x for x in err.splitlines() if x.startswith("gitops-release: error:"))
    commit = live_env.git("ls-remote", "origin", "main").split()[0]
    assert f"interrupted (SIGTERM): Git holds ikubernetes/myapp:v2 (commit {commit[:12]})" in line
    assert "Argo CD was not refreshed" in line
    assert "gitops-release deploy v2 --app myapp` to continue" in line
    assert "gitops-release rollback myapp` to undo" in line
