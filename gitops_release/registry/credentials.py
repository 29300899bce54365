"""Registry credentials, first found wins (never printed: the password is registered as a secret):

1. ``GITOPS_RELEASE_REGISTRY_USER`` / ``GITOPS_RELEASE_REGISTRY_PASSWORD``, for any registry;
2. GitLab CI's ``CI_REGISTRY_USER`` / ``CI_REGISTRY_PASSWORD``, for the ``CI_REGISTRY`` host only;
3. the Docker config file (``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``):
   ``auths.<registry>.auth`` (base64 ``user:password``). Credential helpers (``credsStore``,
   ``credHelpers``) are not run: when one is configured for the registry, :attr:`Lookup.note`
   says so, so that a refusal can name the reason.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_release.output import register_secret
from gitops_release.registry.names import DOCKER_HUB

_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    source: str
    """Where they came from, for messages (``GITOPS_RELEASE_REGISTRY_USER``, a file path...)."""


@dataclass(frozen=True)
class Lookup:
    credentials: Credentials | None
    note: str = ""


def _keys(registry: str) -> tuple[str, ...]:
    if registry == DOCKER_HUB:
        return _HUB_KEYS
    return (registry, f"https://{registry}", f"http://{registry}", f"https://{registry}/v2/")


def docker_config_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    return Path(environ.get("HOME") or Path.home()) / ".docker" / "config.json"


def _from_docker_config(registry: str, environ: Mapping[str, str]) -> Lookup:
    path = docker_config_path(environ)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Lookup(None)
    except (OSError, ValueError):
        return Lookup(None, f"{path} is not readable JSON; ignored")
    if not isinstance(data, dict):
        return Lookup(None)
    auths = _table(data, "auths")
    for key in _keys(registry):
        entry = auths.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return Lookup(None, f"{path}: auths.{key}.auth is not base64 user:password")
            register_secret(entry["auth"])
            register_secret(password)
            return Lookup(Credentials(user, password, str(path)))
    helpers = _table(data, "credHelpers")
    helper = next((helpers[k] for k in _keys(registry) if k in helpers), None) or data.get(
        "credsStore"
    )
    if helper:
        return Lookup(
            None,
            f"{path} names the credential helper {helper!r}, which gitops-release does not run; "
            "set GITOPS_RELEASE_REGISTRY_USER and GITOPS_RELEASE_REGISTRY_PASSWORD instead",
        )
    return Lookup(None)


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def find_credentials(registry: str, environ: Mapping[str, str] | None = None) -> Lookup:
    """The credentials for ``registry`` (as named in the image, e.g. ``docker.io``)."""
    env = os.environ if environ is None else environ
    user, password = (
        env.get("GITOPS_RELEASE_REGISTRY_USER"),
        env.get("GITOPS_RELEASE_REGISTRY_PASSWORD"),
    )
    if user and password:
        register_secret(password)
        return Lookup(Credentials(user, password, "GITOPS_RELEASE_REGISTRY_USER"))
    ci_host = env.get("CI_REGISTRY", "")
    user, password = env.get("CI_REGISTRY_USER"), env.get("CI_REGISTRY_PASSWORD")
    if ci_host and ci_host.removeprefix("https://").rstrip("/") == registry and user and password:
        register_secret(password)
        return Lookup(Credentials(user, password, "CI_REGISTRY_USER"))
    return _from_docker_config(registry, env)
