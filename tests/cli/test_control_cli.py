"""CLI wiring of the Argo CD commands: help with examples, no secret flags, usage errors."""

from __future__ import annotations

import pytest

from gitops_release.cli import main

COMMANDS = [
    ["sync"], ["wait"], ["promote"], ["abort"], ["retry"], ["restart"],
    ["status"], ["list"], ["history"], ["app", "create"], ["app", "delete"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_examples_and_connection_notes(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Examples:\n" in out and "gitops-release " in out.split("Examples:")[1]
    assert "\\b" not in out
    assert "ARGOCD_AUTH_TOKEN" in out


def test_no_flag_takes_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "myapp", "--auth-token", "secret-value"]) == 2
    assert "No such option" in capsys.readouterr().err


def test_missing_server_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "myapp", "--output", "json"]) == 2
    assert "no Argo CD server given (pass --server, set ARGOCD_SERVER" in capsys.readouterr().err


def test_bad_duration_and_target(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARGOCD_SERVER", "http://127.0.0.1:9")
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "tok")
    assert main(["wait", "myapp", "--timeout", "soon"]) == 2
    assert "invalid duration 'soon'" in capsys.readouterr().err
    assert main(["wait", "myapp", "--for", "done"]) == 2


def test_unreachable_server_is_exit_4(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setenv("ARGOCD_SERVER", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "tok")
    monkeypatch.setenv("GITOPS_RELEASE_HTTP_RETRIES", "0")
    assert main(["list", "--debug"]) == 4
    assert f"cannot reach Argo CD at http://127.0.0.1:{port}" in capsys.readouterr().err


def test_falls_back_to_the_argocd_cli_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    import os
    from pathlib import Path

    from tests.fake_http import FakeServer

    server = FakeServer()
    server.routes[("GET", "/api/v1/applications")] = lambda r: (200, {"items": []})
    server.start()
    try:
        host = server.url.removeprefix("http://")
        config = Path(os.environ["HOME"]) / ".config" / "argocd" / "config"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"contexts:\n- name: {host}\n  server: {host}\n  user: {host}\ncurrent-context: {host}\n"
            f"servers:\n- server: {host}\n  plain-text: true\nusers:\n- name: {host}\n  auth-token: from-cli-config\n"
        )
        assert main(["list"]) == 0
        assert server.requests[0].headers["authorization"] == "Bearer from-cli-config"
    finally:
        server.stop()


def test_promote_help_says_what_a_not_paused_rollout_exits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Help and behaviour agree (issue 14, item 10): fully promoted -> exit 0 "nothing to
    promote" (tests/release/test_control_sandbox.py checks the behaviour), an update not yet
    paused -> exit 1."""
    assert main(["promote", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert 'already fully promoted exits 0 with "nothing to promote"' in text
    assert "An update still on its way to the pause, or aborted, exits 1" in text
