"""The error boundary, exit codes, --version/--help and output helpers."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gitops_release import __version__, config, output
from gitops_release.cli import main
from gitops_release.errors import ExitCode, UsageError


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"gitops-release {__version__}"


def test_help_lists_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for code in ExitCode:
        assert f"{code.value:>3}  " in out


def test_unknown_option_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-such-flag"]) == 2
    assert "No such option" in capsys.readouterr().err


@pytest.mark.parametrize("entry", [["-m", "gitops_release"]])
def test_python_dash_m(entry: list[str]) -> None:
    proc = subprocess.run([sys.executable, *entry, "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"gitops-release {__version__}"


def test_redaction_of_registered_secret_and_url_credentials() -> None:
    output.register_secret("s3cr3t-token-value")
    text = "push to https://oauth2:s3cr3t-token-value@gitlab.example.com/g/r.git failed: s3cr3t-token-value"
    redacted = output.redact(text)
    assert "s3cr3t" not in redacted
    assert redacted.startswith("push to https://***@gitlab.example.com/g/r.git")
    assert (
        output.redact("https://glpat-abcdef@gitlab.example.com/x.git")
        == "https://***@gitlab.example.com/x.git"
    )
    assert (
        output.redact("ssh://git@gitlab.example.com/x.git") == "ssh://git@gitlab.example.com/x.git"
    )
    assert output.redact("ssh://git:pw@host/x.git") == "ssh://***@host/x.git"


def test_output_json_mode_and_progress_to_stderr() -> None:
    out, err = io.StringIO(), io.StringIO()
    printer = output.Output(json_mode=True, out=out, err=err)
    printer.result("human line")
    printer.progress("working")
    printer.data({"changed": False})
    assert json.loads(out.getvalue()) == {"changed": False}
    assert "working" in err.getvalue() and "human line" not in out.getvalue()


def test_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert output.color_enabled(Tty(), {}) is True
    assert output.color_enabled(Tty(), {"NO_COLOR": "1"}) is False
    assert output.color_enabled(io.StringIO(), {}) is False


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path
    (root / "gitops-release.toml").write_text(
        'project = "from-file"\nrollouts_server = "http://file"\n'
    )
    sub = root / "apps" / "x"
    sub.mkdir(parents=True)
    env = {"GITOPS_RELEASE_PROJECT": "from-env", "ARGOCD_OPTS": "--plaintext --grpc-web"}
    s = config.resolve({"project": None}, environ=env, cwd=sub)
    assert s["project"] == "from-env" and s.source("project") == "GITOPS_RELEASE_PROJECT"
    assert s["rollouts_server"] == "http://file"
    assert s["plaintext"] is True and s["insecure"] is False
    s = config.resolve({"project": "from-flag"}, environ=env, cwd=sub)
    assert s["project"] == "from-flag"
    s = config.resolve({}, environ={}, cwd=sub, fallback={"argocd_server": "cd.example.com"})
    assert s["argocd_server"] == "cd.example.com" and s["project"] == "from-file"


def test_settings_refuse_secrets_and_unknown_keys_in_file(tmp_path: Path) -> None:
    path = tmp_path / "gitops-release.toml"
    path.write_text('git_token = "abc"\n')
    with pytest.raises(UsageError, match="must not be stored"):
        config.resolve({}, environ={}, config_file=path)
    path.write_text('projekt = "x"\n')
    with pytest.raises(UsageError, match="unknown setting"):
        config.resolve({}, environ={}, config_file=path)


def test_empty_no_color_does_not_turn_colour_off() -> None:
    """no-color.org: only a NO_COLOR with a value disables colour (issue 14, Friction)."""

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert output.color_enabled(Tty(), {"NO_COLOR": ""}) is True
    assert output.color_enabled(Tty(), {"NO_COLOR": "1"}) is False
