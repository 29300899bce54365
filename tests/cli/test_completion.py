"""Shell completion, as the shell asks for it (click's ``_<PROG>_COMPLETE`` environment): command
names for both entry points (``gitops-release`` and its ``release`` alias), ``--for`` states, and
app names read from Argo CD with a short timeout, silent when Argo CD cannot be asked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gitops_release.cli import main
from tests.conftest import Env

BIN = Path(sys.executable).parent


def complete(prog: str, words: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash completion offers for the command line ``words`` (the last word being typed),
    from the installed entry point ``prog``."""
    parts = words.split(" ")
    variable = f"_{prog.replace('-', '_').upper()}_COMPLETE"
    done = subprocess.run(
        [str(BIN / prog)],
        env={
            **os.environ,
            **(env or {}),
            variable: "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(parts) - 1),
        },
        capture_output=True,
        text=True,
        timeout=60,  # a hang guard: the completion itself asks Argo CD with a 2 s budget
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # whatever happens, nothing on the user's terminal
    return done.stdout.split()


def complete_in_process(
    words: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    parts = words.split(" ")
    monkeypatch.setenv("_GITOPS_RELEASE_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(parts) - 1))
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(parts[1:], prog_name="gitops-release")
    assert done.value.code == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out.split()


@pytest.mark.parametrize("prog", ["gitops-release", "release"])
def test_both_entry_points_complete_commands_and_for_states(prog: str) -> None:
    assert complete(prog, f"{prog} pro") == ["promote"]
    assert complete(prog, f"{prog} wait myapp --for ") == ["synced", "preview-ready", "released"]
    assert complete(prog, f"{prog} wait myapp --for pre") == ["preview-ready"]


def test_app_names_come_from_argo_cd(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.create_app()
    for words in (
        "gitops-release status ",
        "gitops-release status m",
        "gitops-release promote my",
        "gitops-release history ",
        "gitops-release rollback ",
        "gitops-release verify ",
        "gitops-release deploy v2 --app ",
        "gitops-release bump-image v2 --argocd-app my",
    ):
        assert complete_in_process(words, monkeypatch, capsys) == ["myapp"], words
    assert complete_in_process("gitops-release status x", monkeypatch, capsys) == []


def test_app_name_completion_is_silent_and_quick_when_argo_cd_cannot_answer() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with socket.socket() as mute:  # accepts connections and never answers
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        silent = f"http://127.0.0.1:{mute.getsockname()[1]}"
        for server in (refused, silent):
            env = {"ARGOCD_SERVER": server, "ARGOCD_AUTH_TOKEN": "t0ken"}
            assert complete("gitops-release", "gitops-release status ", env) == []
    assert complete("gitops-release", "gitops-release status ", {"ARGOCD_SERVER": ""}) == []
