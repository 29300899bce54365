"""Settings, resolved once per command and passed down frozen.

Precedence, highest first (the one place it is written down; the README quotes it):

1. a command-line flag;
2. an environment variable: ``GITOPS_RELEASE_<NAME>`` (upper case), and for Argo CD also the argocd
   CLI's own ``ARGOCD_SERVER``, ``ARGOCD_AUTH_TOKEN``, ``ARGOCD_OPTS``;
3. ``gitops-release.toml``, found from the working directory upwards (normally at the root of the
   GitOps repository checkout); secrets are never read from it;
4. the argocd CLI's config file (current context), for the Argo CD server and token only;
5. the built-in default.

Secrets (tokens, passwords) come only from the environment, a file or stdin, never from a flag's
value (argv is visible to every process on the machine) and never from the TOML file.
"""

from __future__ import annotations

import os
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_release.environments import Environments, seconds
from gitops_release.environments import parse as parse_environments
from gitops_release.errors import UsageError

CONFIG_FILE = "gitops-release.toml"
ENV_PREFIX = "GITOPS_RELEASE_"
ENVIRONMENTS = "environments"
"""The one table that is not a setting: the promotion chain (:mod:`gitops_release.environments`)."""


class Duration(float):
    """A length of time in seconds, written as its flag takes it: ``90``, ``90s``, ``10m``, ``1h30m``."""


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``1h30m`` -> seconds (what ``--timeout`` and the setting take).
    One parser serves the settings and the environments' ``soak`` (:func:`environments.seconds`,
    which this module's import of the environments table lets it share)."""
    try:
        return seconds(text)
    except ValueError:
        raise UsageError(
            f"invalid duration {text.strip()!r}", hint="use e.g. 90s, 10m or 1h"
        ) from None


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any = None
    env: tuple[str, ...] = ()
    """Extra environment variables consulted after GITOPS_RELEASE_<NAME>, in order."""
    secret: bool = False
    kind: type = str
    flag: str = ""
    """The command-line flag that sets it (a secret's: where it is read from instead)."""


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("argocd_server", env=("ARGOCD_SERVER",), flag="--server"),
        Setting(
            "argocd_auth_token", env=("ARGOCD_AUTH_TOKEN",), secret=True, flag="--auth-token-file"
        ),
        Setting("argocd_username", flag="--username"),
        Setting("argocd_password", env=("ARGOCD_PASSWORD",), secret=True, flag="--password-stdin"),
        Setting("rollouts_server", env=("ROLLOUTS_SERVER",), flag="--rollouts-server"),
        Setting("project", default="default", flag="--project"),
        Setting("app_namespace", flag="--app-namespace"),
        Setting("insecure", default=False, kind=bool, flag="--insecure"),
        Setting("plaintext", default=False, kind=bool, flag="--plaintext"),
        Setting("ca_bundle", flag="--ca-bundle"),
        Setting("git_user", default="oauth2"),
        Setting("git_token", secret=True),
        Setting("branch", flag="--branch"),
        Setting("helm"),
        Setting("kubectl"),
        Setting("timeout", default=600.0, kind=Duration, flag="--timeout"),
        Setting("http_retries", default=4.0, kind=float),
        Setting("manual_gate", default=True, kind=bool, flag="--manual-gate/--no-manual-gate"),
        Setting("verify_image", default="on", flag="--verify-image"),
        Setting("insecure_registry", flag="--insecure-registry"),
        Setting("ingress_url", flag="--ingress-url"),
    )
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    if setting.kind is Duration and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if value is None or isinstance(value, setting.kind):
        return value
    text = str(value).strip()
    if setting.kind is Duration:
        try:
            return parse_duration(text)
        except UsageError:
            raise UsageError(
                f"{setting.name} from {source}: expected a duration (90, 90s, 10m, 1h), got {text!r}"
            ) from None
    if setting.kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise UsageError(f"{setting.name} from {source}: expected true or false, got {text!r}")
    if setting.kind is float:
        try:
            return float(text)
        except ValueError:
            raise UsageError(
                f"{setting.name} from {source}: expected a number, got {text!r}"
            ) from None
    return text


def find_config_file(start: Path) -> Path | None:
    """The nearest ``gitops-release.toml`` from ``start`` upwards, or None."""
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate
    return None


def load_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"{path}: cannot read config file: {err}") from None
    unknown = sorted(set(data) - set(SETTINGS) - {ENVIRONMENTS})
    if unknown:
        raise UsageError(
            f"{path}: unknown setting(s) {', '.join(unknown)}",
            hint=f"known: {', '.join(sorted([*SETTINGS, ENVIRONMENTS]))}",
        )
    secrets = sorted(k for k in data if k in SETTINGS and SETTINGS[k].secret)
    if secrets:
        raise UsageError(
            f"{path}: {', '.join(secrets)} must not be stored in a file under version control",
            hint="set it in the environment instead",
        )
    if ENVIRONMENTS in data:
        data[ENVIRONMENTS] = parse_environments(data[ENVIRONMENTS], str(path))
    return data


def argocd_opts(environ: Mapping[str, str]) -> dict[str, bool]:
    """Flags from ``ARGOCD_OPTS`` that we honour (``--grpc-web`` is accepted and harmless)."""
    words = shlex.split(environ.get("ARGOCD_OPTS", ""))
    return {
        "insecure": "--insecure" in words,
        "plaintext": "--plaintext" in words,
        "grpc_web": "--grpc-web" in words,
    }


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)
    environments: Environments = field(default_factory=Environments)
    """From the config file only (no flag or variable holds a table)."""

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def source(self, name: str) -> str:
        return self.sources.get(name, "default")


def resolve(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    config_file: Path | None = None,
    fallback: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve every known setting once. ``fallback`` is step 4 (the argocd CLI config)."""
    env = os.environ if environ is None else environ
    flags = flags or {}
    path = config_file or find_config_file(cwd or Path.cwd())
    file_values = load_config_file(path) if path else {}
    opts = argocd_opts(env)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, setting in SETTINGS.items():
        candidates: list[tuple[str, Any]] = [("flag", flags.get(name))]
        candidates += [(var, env.get(var)) for var in (ENV_PREFIX + name.upper(), *setting.env)]
        if opts.get(name):
            candidates.append(("ARGOCD_OPTS", True))
        candidates.append((str(path), file_values.get(name)))
        candidates.append(("argocd config", (fallback or {}).get(name)))
        for source, raw in candidates:
            if raw is not None and raw != "":
                values[name] = _coerce(setting, raw, source)
                sources[name] = source
                break
        else:
            values[name] = setting.default
    envs = file_values.get(ENVIRONMENTS) or Environments(source=str(path or CONFIG_FILE))
    return Settings(values=values, sources=sources, environments=envs)
