"""The environments an app is promoted through, from ``gitops-release.toml``; validated on load.

::

    [[environments]]
    name = "dev"

    [[environments]]
    name = "staging"
    soak = "1h"                     # how long a release must have run before it is promoted on
    checks = ["preview"]            # what `deploy` smoke-checks there (preview, prod or a URL)

    [[environments]]
    name = "prod"
    application = "{app}-{env}"     # the Argo CD Application of APP here (this is the default)
    applications = { web = "web-production" }   # exceptions, by app

The order of the tables is the promotion order. Pure data: no I/O beyond what the caller read.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_release.errors import UsageError

DEFAULT_PATTERN = "{app}-{env}"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")
_KEYS = {"name", "application", "applications", "soak", "checks"}


def seconds(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``1h30m`` -> seconds: the one duration parser (``--timeout``,
    the settings through :func:`config.parse_duration`, and ``soak`` here); ValueError if not."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.fullmatch(text)
    if not text or parts is None:
        raise ValueError(text)
    h, m, s = (float(g) if g else 0.0 for g in parts.groups())
    return h * 3600 + m * 60 + s


@dataclass(frozen=True)
class Environment:
    name: str
    application: str = DEFAULT_PATTERN
    applications: Mapping[str, str] = field(default_factory=dict)
    soak: float = 0.0
    """Seconds a release must have been live before it is promoted from here."""
    checks: tuple[str, ...] = ()

    def app_name(self, app: str) -> str:
        """The Argo CD Application of ``app`` in this environment."""
        return self.applications.get(app) or self.application.format(app=app, env=self.name)


@dataclass(frozen=True)
class Environments:
    order: tuple[Environment, ...] = ()
    source: str = "gitops-release.toml"

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.order]

    def get(self, name: str, *, flag: str = "environment") -> Environment:
        if not self.order:
            raise UsageError(
                f"no environments configured in {self.source}",
                hint='add [[environments]] tables (name = "dev", ...) in promotion order',
            )
        for env in self.order:
            if env.name == name:
                return env
        raise UsageError(
            f"{flag} {name!r} is not an environment of {self.source}",
            hint=f"known, in order: {', '.join(self.names)}",
        )

    def before(self, env: Environment) -> Environment | None:
        index = self.order.index(env)
        return self.order[index - 1] if index else None


def _fail(where: str, what: str, hint: str | None = None) -> UsageError:
    return UsageError(f"{where}: {what}", hint=hint or "fix the [[environments]] tables")


def _pattern(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(where, 'application must be a pattern string such as "{app}-{env}"')
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
    except ValueError as err:
        raise _fail(where, f"application {value!r}: {err}") from None
    if fields - {"app", "env"} or "app" not in fields:
        raise _fail(
            where,
            f"application {value!r} must use {{app}} and may use {{env}}, nothing else",
        )
    return value


def _environment(raw: Any, where: str) -> Environment:
    if not isinstance(raw, dict):
        raise _fail(where, "must be a table")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise _fail(
            where, f"unknown key(s) {', '.join(unknown)}", f"known: {', '.join(sorted(_KEYS))}"
        )
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(where, f"name must be a lower-case DNS label, got {name!r}")
    where = f"{where} ({name})"
    pattern = _pattern(raw.get("application", DEFAULT_PATTERN), where)
    apps = raw.get("applications", {})
    if not isinstance(apps, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in apps.items()
    ):
        raise _fail(where, "applications must map app names to Application names")
    soak_raw = raw.get("soak", 0)
    try:
        soak = float(soak_raw) if isinstance(soak_raw, int | float) else seconds(str(soak_raw))
    except ValueError:
        raise _fail(
            where, f"soak {soak_raw!r} is not a duration", "use e.g. 30m, 1h or 90s"
        ) from None
    if soak < 0 or isinstance(soak_raw, bool):
        raise _fail(where, f"soak {soak_raw!r} is not a duration", "use e.g. 30m, 1h or 90s")
    checks = raw.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, str) and c for c in checks):
        raise _fail(where, "checks must be a list of preview, prod or URLs")
    for check in checks:
        if check not in ("preview", "prod") and not check.startswith(("http://", "https://")):
            raise _fail(where, f"check {check!r} is neither preview, prod nor an http(s) URL")
    return Environment(name, pattern, dict(apps), soak, tuple(checks))


def parse(raw: Any, source: str) -> Environments:
    """The ``environments`` of a config file; any mistake is a UsageError (exit 2) naming it."""
    if not isinstance(raw, list) or not raw:
        raise _fail(source, "environments must be a non-empty list of [[environments]] tables")
    order = tuple(_environment(item, f"{source}: environments[{i}]") for i, item in enumerate(raw))
    seen: set[str] = set()
    for env in order:
        if env.name in seen:
            raise _fail(source, f"environment {env.name!r} is listed twice")
        seen.add(env.name)
    return Environments(order, source)
