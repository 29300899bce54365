"""JSON schemas of the objects ``lint`` checks, shipped as package data; the only jsonschema importer.

``rollout``, ``analysistemplate``, ``application`` and ``ingressroute`` are the ``openAPIV3Schema`` of the upstream CRDs
translated to JSON Schema by ``tests/regen_schemas.py`` (licences in ``LICENSES/``); ``service`` is
our own, for the Service fields a blue-green app uses.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

SCHEMA_FILES: dict[tuple[str, str], str] = {
    ("argoproj.io/v1alpha1", "Rollout"): "rollout.schema.json",
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): "analysistemplate.schema.json",
    ("argoproj.io/v1alpha1", "Application"): "application.schema.json",
    ("traefik.io/v1alpha1", "IngressRoute"): "ingressroute.schema.json",
    ("v1", "Service"): "service.schema.json",
}
_MAX_MESSAGE = 160


def load(name: str) -> dict[str, Any]:
    """One shipped schema by file name."""
    text = (resources.files(__package__ or __name__) / name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def schema_name(obj: Mapping[str, Any]) -> str | None:
    """The schema file that covers ``obj`` (by apiVersion and kind), or None when we have none."""
    return SCHEMA_FILES.get((str(obj.get("apiVersion")), str(obj.get("kind"))))


@functools.cache
def _shipped_validator(name: str) -> Any:
    return _validator(load(name))


def _validator(schema: Mapping[str, Any]) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema)


def _where(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _without_nulls(node: Any) -> Any:
    """The API server treats ``key: null`` as an absent key (it prunes it before validation)."""
    if isinstance(node, Mapping):
        return {k: _without_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_nulls(v) for v in node]
    return node


def problems(obj: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> list[str]:
    """Schema violations of ``obj``, one short line each (``spec.replicas: -1 is less than...``).

    ``schema`` overrides the shipped one (tests pass schemas built straight from the CRDs).
    An object we have no schema for has no problems here. ``key: null`` counts as absent, as
    on the API server.
    """
    if schema is not None:
        validator = _validator(schema)
    else:
        name = schema_name(obj)
        if name is None:
            return []
        validator = _shipped_validator(name)
    lines = []
    errors = validator.iter_errors(_without_nulls(obj))
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        message = " ".join(str(error.message).split())
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 3] + "..."
        lines.append(f"{_where(error.absolute_path)}: {message}")
    return lines
