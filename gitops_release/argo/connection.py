"""How to reach Argo CD: settings, the argocd CLI's config, credentials, login, the client."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from gitops_release import config
from gitops_release.argo import http
from gitops_release.argo.client import ArgoCD
from gitops_release.config import Settings
from gitops_release.errors import RemoteError, UsageError
from gitops_release.output import register_secret


def cli_config_path(environ: Mapping[str, str]) -> Path:
    """The argocd CLI's config file: ``$ARGOCD_CONFIG_DIR/config`` or ``~/.config/argocd/config``."""
    if environ.get("ARGOCD_CONFIG_DIR"):
        return Path(environ["ARGOCD_CONFIG_DIR"]) / "config"
    home = Path(environ.get("HOME") or Path.home())
    base = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    new = base / "argocd" / "config"
    legacy = home / ".argocd" / "config"
    return new if new.exists() or not legacy.exists() else legacy


def read_cli_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Server, token and TLS flags of the argocd CLI's current context ({} when there is none)."""
    from gitops_release.yaml.read import load_all

    env = os.environ if environ is None else environ
    path = cli_config_path(env)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    docs = load_all(text, source=str(path))
    data = docs[0] if docs and isinstance(docs[0], dict) else {}
    current = data.get("current-context")
    context = next(
        (c for c in data.get("contexts") or [] if isinstance(c, dict) and c.get("name") == current),
        None,
    )
    if not context:
        return {}
    server = next(
        (
            s
            for s in data.get("servers") or []
            if isinstance(s, dict) and s.get("server") == context.get("server")
        ),
        {},
    )
    user = next(
        (
            u
            for u in data.get("users") or []
            if isinstance(u, dict) and u.get("name") == context.get("user")
        ),
        {},
    )
    token = user.get("auth-token")
    register_secret(token)
    return {
        "argocd_server": context.get("server"),
        "argocd_auth_token": token,
        "insecure": bool(server.get("insecure")) or None,
        "plaintext": bool(server.get("plain-text")) or None,
    }


def server_url(server: str, *, plaintext: bool = False) -> str:
    """A base URL from ``https://host``, ``http://host:8080/argocd`` or the argocd CLI's ``host:port``."""
    server = server.strip().rstrip("/")
    if not server:
        raise UsageError("empty Argo CD server address", hint="set --server or ARGOCD_SERVER")
    if "://" in server:
        if not server.startswith(("http://", "https://")):
            raise UsageError(
                f"Argo CD server {server!r}: only http:// and https:// URLs are supported"
            )
        return server
    return f"{'http' if plaintext else 'https'}://{server}"


def login(client: http.Client, username: str, password: str) -> str:
    register_secret(password)
    try:
        data = client.request(
            "POST", "/api/v1/session", body={"username": username, "password": password}
        )
    except http.Unauthorized as err:
        raise RemoteError(
            f"Argo CD login as {username} failed: {err.server_message}",
            hint="check the user name and the password given on stdin or in ARGOCD_PASSWORD",
        ) from None
    token = data.get("token") if isinstance(data, dict) else None
    if not token:
        raise RemoteError("Argo CD login answered without a token", hint="check --server")
    register_secret(str(token))
    return str(token)


def connect(
    settings: Settings,
    *,
    token_file: Path | None = None,
    password: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ArgoCD:
    """An authenticated :class:`ArgoCD` from resolved settings (see the module docstring)."""
    server = settings.get("argocd_server")
    if not server:
        raise UsageError(
            "no Argo CD server given",
            hint="pass --server, set ARGOCD_SERVER, or log in once with the argocd CLI",
        )
    ca_bundle = settings.get("ca_bundle")
    if ca_bundle and not Path(ca_bundle).is_file():
        raise UsageError(f"--ca-bundle {ca_bundle}: no such file")
    verify: bool | str = ca_bundle or not settings.get("insecure", False)
    token: str | None = None
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise UsageError(
                f"--auth-token-file {token_file}: cannot read: {err.strerror}"
            ) from None
        if not token:
            raise UsageError(f"--auth-token-file {token_file} is empty")
    username = settings.get("argocd_username")
    client = http.Client(
        server_url(str(server), plaintext=bool(settings.get("plaintext"))),
        name="Argo CD",
        verify=verify,
        sleep=sleep,
        retries=int(settings.get("http_retries", 4)),
    )
    if token is None and username:
        password = password or settings.get("argocd_password")
        if not password:
            raise UsageError(
                f"--username {username} needs a password",
                hint="pipe it to --password-stdin or set ARGOCD_PASSWORD",
            )
        token = login(client, str(username), str(password))
    token = token or settings.get("argocd_auth_token")
    if not token:
        raise UsageError(
            f"no Argo CD credentials for {server}",
            hint="set ARGOCD_AUTH_TOKEN, pass --auth-token-file, or --username with --password-stdin",
        )
    register_secret(token)
    client.token = token
    chosen = settings.source("project") != "default"
    return ArgoCD(
        client,
        project=settings.get("project") if chosen else None,
        app_namespace=settings.get("app_namespace"),
        default_project=settings.get("project", "default"),
    )


DEADLINE_GRACE = 1.0


@dataclass
class Connection:
    """How to reach Argo CD (and the Rollouts dashboard): flags, plus where secrets come from."""

    flags: dict[str, Any] = field(default_factory=dict)
    token_file: Path | None = None
    password_stdin: bool = False
    environ: Mapping[str, str] | None = None
    stdin: TextIO | None = None
    sleep: Callable[[float], None] = time.sleep
    started: float = field(default_factory=time.monotonic)
    """When the command started: ``--timeout`` counts from here, for every call it makes."""
    bounded: bool = True
    """False for a command that runs until stopped (``status --watch`` without ``--timeout``)."""
    _settings: config.Settings | None = None
    _argocd: ArgoCD | None = None

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            env = os.environ if self.environ is None else self.environ
            has_server = self.flags.get("argocd_server") or env.get("ARGOCD_SERVER")
            has_auth = (
                self.token_file or self.flags.get("argocd_username") or env.get("ARGOCD_AUTH_TOKEN")
            )
            # the argocd CLI's config is step 4: read (and parse) it only when it can matter
            fallback = {} if has_server and has_auth else read_cli_config(env)
            self._settings = config.resolve(self.flags, environ=env, fallback=fallback)
        return self._settings

    def argocd(self) -> ArgoCD:
        if self._argocd is None:
            password = None
            if self.password_stdin:
                password = (self.stdin or sys.stdin).readline().rstrip("\r\n")
                if not password:
                    raise UsageError("--password-stdin: nothing on stdin")
                register_secret(password)
            self._argocd = connect(
                self.settings, token_file=self.token_file, password=password, sleep=self.sleep
            )
            self.extend_deadline(self.timeout)
        return self._argocd

    def extend_deadline(self, seconds: float) -> None:
        """No Argo CD call runs past ``seconds`` from the start (plus DEADLINE_GRACE for the last
        look a wait takes before it reports what was missing). Recovery after a failed release
        gives itself more time, from now."""
        from gitops_release.argo.wait import format_duration

        if self._argocd is None or not self.bounded:
            return
        client = self._argocd.client
        base = self.started if client.deadline is None else client.clock()
        client.deadline = base + seconds + DEADLINE_GRACE
        client.deadline_label = format_duration(seconds)

    def deadline(self) -> tuple[float | None, str]:
        """``time.monotonic()`` past which no call of this command may run, and its label (the
        ``--timeout``): what every other client (the Rollouts dashboard, smoke checks) is held to.
        None when the command runs until stopped."""
        from gitops_release.argo.wait import format_duration

        if not self.bounded:
            return None, ""
        if self._argocd is not None and self._argocd.client.deadline is not None:
            return self._argocd.client.deadline, self._argocd.client.deadline_label
        return self.started + self.timeout + DEADLINE_GRACE, format_duration(self.timeout)

    def now(self) -> dt.datetime:
        """The Argo CD server's clock when we have talked to it (ages, scale-down delays)."""
        if self._argocd is not None:
            return self._argocd.client.server_now()
        return dt.datetime.now(dt.UTC)

    @property
    def timeout(self) -> float:
        return float(self.settings.get("timeout", 600.0))
