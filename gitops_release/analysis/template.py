"""An AnalysisTemplate read for ``verify --analysis``: found (a file, or a name among the app's
files), its args resolved (``--arg k=v`` over the template's values; one without a value is bad
input) and substituted as the controller does (``{{args.NAME}}``, JSON-escaped), and its metrics
checked before anything is measured: a provider the CI job can query (web, prometheus),
conditions that compile, durations that parse, and a count for a metric with an interval
(upstream would measure it forever).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_release.analysis.condition import Condition, compile_condition
from gitops_release.argo.model import provider_secrets
from gitops_release.errors import UsageError
from gitops_release.output import register_secret

KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate")
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
_ARG = re.compile(r"{{\s*args\.([A-Za-z0-9_.-]+)\s*}}")
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(h|ms|m|s))+$")


@dataclass(frozen=True)
class Metric:
    name: str
    provider: str
    """``web`` or ``prometheus``."""
    spec: dict[str, Any]
    """The provider's block, args substituted."""
    success: Condition | None = None
    failure: Condition | None = None
    count: int | None = 1
    """Measurements to take (upstream's effective count)."""
    interval: float = 0.0
    initial_delay: float = 0.0
    failure_limit: int = 0
    inconclusive_limit: int = 0
    consecutive_error_limit: int = DEFAULT_CONSECUTIVE_ERROR_LIMIT
    consecutive_success_limit: int = 0


@dataclass(frozen=True)
class Template:
    name: str
    source: str
    metrics: tuple[Metric, ...] = ()
    args: dict[str, str] = field(default_factory=dict)


def parse_duration(text: Any, what: str) -> float:
    """Upstream's durations: ``30s``, ``5m``, ``1h30m``, ``500ms``; a bare number is seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    value = str(text or "").strip()
    if not value:
        return 0.0
    if not _DURATION.match(value):
        raise UsageError(f'{what}: "{value}" is not a duration', hint="write e.g. 30s, 5m or 1h")
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", value))


def find(documents: list[tuple[str, Any]], name: str | None) -> tuple[str, dict[str, Any]]:
    """The template named ``name`` (the only one when ``name`` is None) among ``(source, doc)``."""
    found = [
        (source, doc)
        for source, doc in documents
        if isinstance(doc, dict)
        and doc.get("kind") in KINDS
        and (name is None or (doc.get("metadata") or {}).get("name") == name)
    ]
    if not found:
        what = f"AnalysisTemplate {name}" if name else "an AnalysisTemplate"
        where = ", ".join(sorted({s for s, _ in documents})) or "no YAML files"
        raise UsageError(
            f"no {what} found (looked in {where})",
            hint="give the template's file, or the name of a template in the app's files",
        )
    if len(found) > 1 and name is None:
        names = ", ".join(str((d.get("metadata") or {}).get("name")) for _, d in found)
        raise UsageError(
            f"{found[0][0]} holds several AnalysisTemplates ({names})",
            hint="give the one to run by name",
        )
    return found[0]


def env_name(arg: str) -> str:
    """Where an arg may come from instead of ``--arg`` (a secret must not be in argv):
    ``service-name`` -> ``GITOPS_RELEASE_ARG_SERVICE_NAME``."""
    return "GITOPS_RELEASE_ARG_" + re.sub(r"[^A-Z0-9]", "_", arg.upper())


def resolve(
    source: str,
    doc: dict[str, Any],
    given: dict[str, str],
    environ: Mapping[str, str] | None = None,
) -> Template:
    """Args (``--arg``, then ``GITOPS_RELEASE_ARG_NAME`` in ``environ``, then the template's
    value), substitution and the checks of the module docstring; UsageError naming the fix."""
    name = str((doc.get("metadata") or {}).get("name") or "")
    spec = doc.get("spec") or {}
    where = f"AnalysisTemplate {name} ({source})"
    declared = {str(a.get("name")): a for a in spec.get("args") or [] if isinstance(a, dict)}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise UsageError(
            f"{where} has no arg {', '.join(unknown)}",
            hint=f"its args are: {', '.join(declared) or 'none'}",
        )
    args: dict[str, str] = {}
    for arg_name, arg in declared.items():
        from_env = (environ or {}).get(env_name(arg_name))
        if arg_name in given or from_env is not None:
            args[arg_name] = given[arg_name] if arg_name in given else str(from_env)
            if arg.get("valueFrom") or arg_name not in given:  # a secret, or kept like one
                register_secret(args[arg_name])
        elif arg.get("value") is not None:
            args[arg_name] = str(arg["value"])
        else:
            origin = "a secret (valueFrom)" if arg.get("valueFrom") else "no value"
            raise UsageError(
                f"{where}: arg {arg_name} has {origin}",
                hint=f"pass it with --arg {arg_name}=VALUE, or a secret in ${env_name(arg_name)}",
            )
    metrics = tuple(_metric(where, m, args) for m in spec.get("metrics") or [])
    if not metrics:
        raise UsageError(f"{where} has no metrics", hint="add spec.metrics")
    return Template(name, source, metrics, args)


def _substitute(where: str, data: Any, args: dict[str, str]) -> Any:
    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in args:
            raise UsageError(
                f"{where}: {{{{args.{key}}}}} names an arg the template does not declare",
                hint=f"add {key} to spec.args (or fix the name)",
            )
        return json.dumps(args[key])[1:-1]

    return json.loads(_ARG.sub(value, json.dumps(data)))


def _metric(where: str, raw: Any, args: dict[str, str]) -> Metric:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise UsageError(f"{where}: a metric without a name", hint="give each metric a name")
    metric = _substitute(where, raw, args)
    name = str(metric["name"])
    about = f'{where}, metric "{name}"'
    provider = metric.get("provider") or {}
    kinds = [k for k, v in provider.items() if v is not None]
    if kinds not in (["web"], ["prometheus"]):
        raise UsageError(
            f"{about}: provider {', '.join(kinds) or 'none'} cannot be measured from CI",
            hint="verify --analysis runs web and prometheus metrics",
        )
    block = provider[kinds[0]]
    if kinds == ["prometheus"] and not (block.get("address") and block.get("query")):
        raise UsageError(f"{about}: prometheus needs an address and a query")
    if kinds == ["web"] and not block.get("url"):
        raise UsageError(f"{about}: web needs a url")
    _register_secrets(block)
    interval = parse_duration(metric.get("interval"), f"{about}: interval")
    count = _int(about, metric, "count", 0)
    if count == 0 and interval:
        raise UsageError(
            f"{about} has an interval and no count: the controller measures it until the "
            "run is stopped",
            hint="give the metric a count to run it from CI",
        )
    conditions = []
    for key in ("successCondition", "failureCondition"):
        text = str(metric.get(key) or "").strip()
        try:
            conditions.append(compile_condition(text) if text else None)
        except ValueError as err:
            raise UsageError(f"{about}: {key}: {err}", hint="fix the expression") from None
    return Metric(
        name=name,
        provider=kinds[0],
        spec=block,
        success=conditions[0],
        failure=conditions[1],
        count=count or 1,
        interval=interval,
        initial_delay=parse_duration(metric.get("initialDelay"), f"{about}: initialDelay"),
        failure_limit=_int(about, metric, "failureLimit", 0),
        inconclusive_limit=_int(about, metric, "inconclusiveLimit", 0),
        consecutive_error_limit=_int(
            about, metric, "consecutiveErrorLimit", DEFAULT_CONSECUTIVE_ERROR_LIMIT
        ),
        consecutive_success_limit=_int(about, metric, "consecutiveSuccessLimit", 0),
    )


def _register_secrets(block: dict[str, Any]) -> None:
    """Credentials of a provider (a URL's ``user:password@``, a token header) are masked in
    every output from here on, in clear and in the Basic form a server may echo."""
    for secret in provider_secrets(block):
        register_secret(secret)


def _int(about: str, metric: dict[str, Any], key: str, default: int) -> int:
    value = metric.get(key)
    if value is None:
        return default
    try:
        return int(str(value))
    except ValueError:
        raise UsageError(f"{about}: {key} {value!r} is not a number") from None


def read_file(path: Path) -> list[tuple[str, Any]]:
    """The documents of one YAML file, each with its source for messages."""
    from gitops_release.yaml.read import load_all

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UsageError(f"{path}: cannot read: {err.strerror}") from None
    return [(str(path), doc) for doc in load_all(text, source=str(path))]


def read_directory(root: Path) -> list[tuple[str, Any]]:
    """Every YAML document under ``root`` (the app's directory), skipping unreadable files."""
    from gitops_release.yaml.read import YamlError, load_all

    documents: list[tuple[str, Any]] = []
    for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        if ".git" in path.parts:
            continue
        try:
            documents += [
                (str(path.relative_to(root)), doc)
                for doc in load_all(path.read_text(encoding="utf-8"), source=str(path))
            ]
        except (OSError, UnicodeDecodeError, YamlError):
            continue
    return documents
