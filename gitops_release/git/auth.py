"""Git credentials: where the token comes from, and how it reaches git without leaking.

``GITOPS_RELEASE_GIT_TOKEN`` (user ``GITOPS_RELEASE_GIT_USER``, default ``oauth2`` as GitLab
expects), or a ``user:token@`` part of a URL (accepted, moved out of the URL, shown redacted).
git receives it only through the child's environment, as ``http.extraHeader`` set by
``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n``: never a URL, argv,
``.git/config``, the reflog or a log line.
"""

from __future__ import annotations

import base64
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from gitops_release.config import Settings
from gitops_release.output import register_secret

DEFAULT_GIT_USER = "oauth2"  # what GitLab expects with a project access token


@dataclass(frozen=True)
class Credentials:
    user: str
    token: str = field(repr=False)


def split_url_credentials(url: str) -> tuple[str, Credentials | None]:
    """``https://user:token@host/x`` -> (``https://host/x``, Credentials). Other URLs unchanged."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, token = userinfo.partition(":")
    user, token = urllib.parse.unquote(user), urllib.parse.unquote(token)
    if not sep:  # a bare https://TOKEN@host: GitLab/GitHub accept the token as the user name
        user, token = DEFAULT_GIT_USER, user
    register_secret(token)
    register_secret(userinfo)
    clean = urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, Credentials(user or DEFAULT_GIT_USER, token)


def strip_credentials(url: str) -> str:
    """A URL safe to show: any ``user:password@`` part removed (ssh ``git@host:`` stays)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("http", "https", "ssh", "git", "ftp", "ftps") and "@" in parts.netloc:
        userinfo, _, host = parts.netloc.rpartition("@")
        if parts.scheme == "ssh" and ":" not in userinfo:
            return url  # ssh://git@host/x: a user name, not a secret
        return urllib.parse.urlunsplit(
            (parts.scheme, host, parts.path, parts.query, parts.fragment)
        )
    return url


def credentials_from(
    settings: Settings | None, url_credentials: Credentials | None = None
) -> Credentials | None:
    """The token to push with: the settings' ``git_token`` wins over one found inside a URL."""
    token = settings.get("git_token") if settings is not None else None
    if token:
        register_secret(str(token))
        user = settings.get("git_user", DEFAULT_GIT_USER) if settings is not None else None
        return Credentials(str(user or DEFAULT_GIT_USER), str(token))
    return url_credentials


def git_environ(
    credentials: Credentials | None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Extra environment for git children: no prompts, and the credentials as an HTTP header.

    ``GIT_CONFIG_COUNT`` entries already in the environment are kept; ours is appended.
    """
    env = os.environ if base is None else base
    extra = {"GIT_TERMINAL_PROMPT": "0"}
    try:
        n = int(env.get("GIT_CONFIG_COUNT", "0") or "0")
    except ValueError:
        n = 0
    # No background maintenance in a throw-away clone or on the user's behalf mid-release.
    settings = [("maintenance.auto", "false"), ("gc.auto", "0")]
    if credentials is not None:
        pair = f"{credentials.user}:{credentials.token}".encode()
        basic = base64.b64encode(pair).decode("ascii")
        register_secret(credentials.token)
        register_secret(basic)
        settings.append(("http.extraHeader", f"Authorization: Basic {basic}"))
    for i, (key, value) in enumerate(settings, start=n):
        extra[f"GIT_CONFIG_KEY_{i}"] = key
        extra[f"GIT_CONFIG_VALUE_{i}"] = value
    extra["GIT_CONFIG_COUNT"] = str(n + len(settings))
    return extra
