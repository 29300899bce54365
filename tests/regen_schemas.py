"""Regenerate the JSON schemas that ``gitops-release lint`` ships in ``gitops_release/schemas/``.

Run: ``.venv/bin/python tests/regen_schemas.py [SPECS_DIR]`` (default ``tests/data/specs``, the
upstream CRDs and their licences as ``tests/data/SOURCES.md`` records them).
``tests/test_lint.py`` checks that the shipped files equal what this script produces.

A CRD's ``openAPIV3Schema`` is OpenAPI 3.0 with Kubernetes extensions; JSON Schema validators do not
know the extensions, so they are translated to what the API server does with them:

- ``x-kubernetes-int-or-string: true`` -> ``anyOf: [integer, string]``;
- ``x-kubernetes-preserve-unknown-fields: true`` -> the object stays open;
- every other object with ``properties`` is closed (``additionalProperties: false``): with field
  validation (kubectl's default ``--validate=strict``) the API server refuses unknown fields, and a
  typo such as ``activeServise`` would otherwise be silently pruned;
- ``nullable: true`` -> the type also admits null;
- descriptions, formats and the list/map-type markers are dropped (they do not constrain a manifest
  the way lint checks it; CEL ``x-kubernetes-validations`` are not evaluated).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

from gitops_release.yaml.read import load_all

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "gitops_release" / "schemas"

# (output file, CRD file in specs/, apiVersion, kind, upstream, licence file)
CRDS = (
    (
        "rollout.schema.json",
        "rollout-crd.yaml",
        "argoproj.io/v1alpha1",
        "Rollout",
        "argoproj/argo-rollouts manifests/crds/rollout-crd.yaml",
        "Apache-2.0.txt",
    ),
    (
        "analysistemplate.schema.json",
        "analysis-template-crd.yaml",
        "argoproj.io/v1alpha1",
        "AnalysisTemplate",
        "argoproj/argo-rollouts manifests/crds/analysis-template-crd.yaml",
        "Apache-2.0.txt",
    ),
    (
        "application.schema.json",
        "application-crd.yaml",
        "argoproj.io/v1alpha1",
        "Application",
        "argoproj/argo-cd manifests/crds/application-crd.yaml",
        "Apache-2.0.txt",
    ),
    (
        "ingressroute.schema.json",
        "traefik-ingressroute-crd.yaml",
        "traefik.io/v1alpha1",
        "IngressRoute",
        "traefik/traefik docs/content/reference/dynamic-configuration/traefik.io_ingressroutes.yaml",
        "traefik-MIT.md",
    ),
)

_DROP = {
    "description",
    "format",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
    "x-kubernetes-embedded-resource",
}


def convert(node: Any) -> Any:
    """Translate one OpenAPI v3 (Kubernetes structural) schema node into JSON Schema."""
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    for key, value in node.items():
        if key in _DROP or key in ("x-kubernetes-preserve-unknown-fields", "nullable"):
            continue
        if key == "x-kubernetes-int-or-string":
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: convert(sub) for name, sub in value.items()}
        else:
            out[key] = convert(value)
    if node.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("type") == "object" and "properties" in out and not preserve:
        out.setdefault("additionalProperties", False)
    return out


def crd_schema(crd_text: str, source: str, api_version: str, kind: str) -> dict[str, Any]:
    (crd,) = [doc for doc in load_all(crd_text, source=source) if doc]
    version = api_version.split("/")[1]
    (entry,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = convert(entry["schema"]["openAPIV3Schema"])
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    schema["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "minLength": 1}},
    }
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    return schema


@functools.cache
def generate(specs: Path) -> dict[str, str]:
    """File name -> JSON text, for every schema derived from a CRD (cached: parsing the CRDs
    takes seconds in pure Python)."""
    files: dict[str, str] = {}
    for name, crd_file, api_version, kind, upstream, licence in CRDS:
        schema = crd_schema(
            (specs / crd_file).read_text(encoding="utf-8"), crd_file, api_version, kind
        )
        document = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$comment": (
                f"Generated by tests/regen_schemas.py from the openAPIV3Schema of {upstream}; "
                f"licence: LICENSES/{licence}"
            ),
            "title": f"{api_version} {kind}",
            **schema,
        }
        files[name] = json.dumps(document, indent=1, sort_keys=True) + "\n"
    return files


def main(argv: list[str]) -> int:
    specs = Path(argv[0]) if argv else HERE / "data" / "specs"
    for name, text in generate(specs).items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name} ({len(text)} bytes)")
    licences = OUT / "LICENSES"
    licences.mkdir(exist_ok=True)
    for licence in sorted({c[5] for c in CRDS}):
        (licences / licence).write_bytes((specs / "LICENSES" / licence).read_bytes())
        print(f"copied {licences / licence}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
