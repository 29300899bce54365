"""Every setting takes, in the environment and in ``gitops-release.toml``, what its flag takes
(issue 14, item 9: ``GITOPS_RELEASE_TIMEOUT=30s`` failed with "expected a number", breaking
even ``list``). One row per setting of ``config.SETTINGS``; a test checks none is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops_release.cli import main
from gitops_release.config import CONFIG_FILE, SETTINGS, resolve

# setting -> (the value as a user writes it, in the flag's form; the value resolved)
WRITTEN: dict[str, tuple[str, Any]] = {
    "argocd_server": ("argocd.example.com:443", "argocd.example.com:443"),
    "argocd_auth_token": ("tok-123456", "tok-123456"),
    "argocd_username": ("admin", "admin"),
    "argocd_password": ("pw-123456", "pw-123456"),
    "rollouts_server": ("http://127.0.0.1:3100", "http://127.0.0.1:3100"),
    "project": ("team-a", "team-a"),
    "app_namespace": ("argocd-apps", "argocd-apps"),
    "insecure": ("true", True),
    "plaintext": ("true", True),
    "ca_bundle": ("/etc/ssl/ca.pem", "/etc/ssl/ca.pem"),
    "git_user": ("deployer", "deployer"),
    "git_token": ("glpat-123456", "glpat-123456"),
    "branch": ("release", "release"),
    "helm": ("/opt/helm/bin/helm", "/opt/helm/bin/helm"),
    "kubectl": ("kubectl-1.35", "kubectl-1.35"),
    "timeout": ("1m30s", 90.0),
    "http_retries": ("2", 2.0),
    "manual_gate": ("false", False),
    "verify_image": ("warn", "warn"),
    "insecure_registry": ("registry.example.com:5000", "registry.example.com:5000"),
    "ingress_url": ("http://traefik.internal:8080", "http://traefik.internal:8080"),
}
# TOML's own types for the same values, where a user would write them natively
NATIVE: dict[str, tuple[Any, Any]] = {
    "insecure": (True, True),
    "timeout": (30, 30.0),
    "http_retries": (3, 3.0),
    "manual_gate": (False, False),
}


def test_every_setting_is_in_the_table() -> None:
    assert set(WRITTEN) == set(SETTINGS)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_the_environment_takes_what_the_flag_takes(name: str, tmp_path: Path) -> None:
    written, expected = WRITTEN[name]
    settings = resolve(environ={f"GITOPS_RELEASE_{name.upper()}": written}, cwd=tmp_path)
    assert settings[name] == expected


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return f'"{value}"'


@pytest.mark.parametrize("name", sorted(n for n, s in SETTINGS.items() if not s.secret))
def test_the_toml_file_takes_what_the_flag_takes(name: str, tmp_path: Path) -> None:
    for written, expected in (WRITTEN[name], NATIVE.get(name, WRITTEN[name])):
        (tmp_path / CONFIG_FILE).write_text(f"{name} = {_toml(written)}\n")
        assert resolve(environ={}, cwd=tmp_path)[name] == expected, written


def test_a_duration_setting_does_not_break_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reported case: the setting reached every command, so ``list`` failed too (exit 2).
    Now it gets as far as the (absent) server: exit 4."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITOPS_RELEASE_TIMEOUT", "30s")
    monkeypatch.setenv("ARGOCD_SERVER", "http://127.0.0.1:9")
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "tok-123456")
    monkeypatch.setenv("GITOPS_RELEASE_HTTP_RETRIES", "0")
    code = main(["list"])
    err = capsys.readouterr().err
    assert code == 4, err
    assert "expected a number" not in err


def test_a_bad_duration_names_the_setting_and_its_source(tmp_path: Path) -> None:
    from gitops_release.errors import UsageError

    with pytest.raises(
        UsageError, match=r"timeout from GITOPS_RELEASE_TIMEOUT: expected a duration"
    ):
        resolve(environ={"GITOPS_RELEASE_TIMEOUT": "soon"}, cwd=tmp_path)


# --- the README's settings table (issue 14: "every setting, its env var, its flag, its default")

README = Path(__file__).parent.parent / "README.md"
TABLE_START = "<!-- settings table: checked against config.SETTINGS by tests/test_config.py -->"
TABLE_END = "<!-- end of settings table -->"


def settings_table() -> str:
    """The table as the README must hold it, from ``config.SETTINGS``."""
    from gitops_release.argo.wait import format_duration
    from gitops_release.config import ENV_PREFIX, Duration, argocd_opts

    def default(setting: Any) -> str:
        value = setting.default
        if value is None:
            return "-"
        if setting.kind is Duration:
            return f"`{format_duration(value)}`"
        if isinstance(value, bool):
            return f"`{str(value).lower()}`"
        if isinstance(value, float) and value.is_integer():
            return f"`{int(value)}`"
        return f"`{value}`"

    rows = [
        "| setting (key in `gitops-release.toml`) | environment | flag | default |",
        "|---|---|---|---|",
    ]
    for name, setting in SETTINGS.items():
        key = f"`{name}`" + (" (a secret: never in the file)" if setting.secret else "")
        env = [ENV_PREFIX + name.upper(), *setting.env]
        if name in argocd_opts({}):
            env.append(f"ARGOCD_OPTS=--{name}")
        flag = f"`{setting.flag}`" if setting.flag else "-"
        rows.append(f"| {key} | {', '.join(f'`{e}`' for e in env)} | {flag} | {default(setting)} |")
    return "\n".join(rows)


def test_the_readme_lists_every_setting_as_the_code_has_it() -> None:
    text = README.read_text(encoding="utf-8")
    assert TABLE_START in text and TABLE_END in text, f"README: put the table between {TABLE_START}"
    written = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    expected = settings_table()
    assert written == expected, f"README's settings table is stale; it should read:\n{expected}"


def test_every_settings_flag_exists_on_some_command() -> None:
    from tests.conftest import every_option

    options = every_option()
    for setting in SETTINGS.values():
        for flag in setting.flag.split("/") if setting.flag else ():
            assert flag in options, f"{setting.name}: no command has {flag}"
