"""Real kubectl (kustomize built in) and helm for the render tests.

Which binaries: the user's own when ``GITOPS_RELEASE_KUBECTL`` / ``GITOPS_RELEASE_HELM`` name them,
else the pinned builds ``./dev test`` unpacks into ``.venv/tools/bin`` (``tools/kube_tools.py``).
Never whatever else is first on PATH: a machine's own kubectl may be years older, or a wrapper.

A missing or broken binary skips the test on a laptop and fails it under CI, with the reason: in
CI these tests always run. ``CI`` and ``GITOPS_RELEASE_*`` are read here, at import, because the
autouse ``pinned_env`` fixture removes them from each test's environment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest
from ruamel.yaml import YAML

from tests.conftest import REPO_ROOT, Env, guide_manifests

IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
OVERRIDES = {
    "kubectl": os.environ.get("GITOPS_RELEASE_KUBECTL", ""),
    "helm": os.environ.get("GITOPS_RELEASE_HELM", ""),
}
CACHE = REPO_ROOT / ".venv" / "tools" / "bin"
CORPUS = REPO_ROOT / "tests" / "data" / "corpus" / "real"


def _pins() -> ModuleType:
    """tools/kube_tools.py, for its pinned versions (one place to change them)."""
    spec = importlib.util.spec_from_file_location(
        "kube_tools", REPO_ROOT / "tools" / "kube_tools.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PINS = _pins()


@dataclass(frozen=True)
class Tool:
    name: str
    path: Path
    version: str

    def run(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run the tool; the caller checks ``returncode`` (stderr is kept for the message)."""
        return subprocess.run(
            [str(self.path), *map(str, args)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def output(self, *args: str | Path, cwd: Path | None = None) -> str:
        done = self.run(*args, cwd=cwd)
        assert done.returncode == 0, f"{self.name} {' '.join(map(str, args))}: {done.stderr}"
        return done.stdout


def unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{reason} (CI is set: tests that need it must run)", pytrace=False)
    pytest.skip(reason)


def _version(path: Path, args: Sequence[str], parse: str) -> str:
    try:
        done = subprocess.run(
            [str(path), *args], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as err:
        return f"! {err}"
    if done.returncode != 0:
        return f"! exit {done.returncode}: {done.stderr.strip()[:200]}"
    out = done.stdout.strip()
    return str(json.loads(out)["clientVersion"]["gitVersion"]) if parse == "json" else out


def find_tool(name: str, version_args: Sequence[str], parse: str) -> Tool:
    override = OVERRIDES[name]
    env_name = f"GITOPS_RELEASE_{name.upper()}"
    if override:
        found = shutil.which(override)
        if found is None:
            unavailable(f"{env_name}={override}: not an executable")
        path = Path(found)
    else:
        path = CACHE / name
        if not path.is_file():
            unavailable(
                f"{name} is not installed in {CACHE} (./dev test installs it; "
                f"or set {env_name} to your own)"
            )
    version = _version(path, version_args, parse)
    if version.startswith("!"):
        unavailable(f"{path} does not run here: {version[2:]}")
    pinned = PINS.SHA256[name][1]
    if not override and version != pinned:
        unavailable(f"{path} is {version}, pinned {pinned}: remove {CACHE} and run ./dev test")
    return Tool(name, path, version)


@pytest.fixture(scope="session")
def kubectl() -> Tool:
    return find_tool("kubectl", ["version", "--client", "-o", "json"], "json")


@pytest.fixture(scope="session")
def helm() -> Tool:
    return find_tool("helm", ["version", "--template", "{{.Version}}"], "text")


def objects(text: str) -> list[dict[str, object]]:
    """The non-empty YAML documents of a stream (kubectl/helm output or a manifest file), read
    here with ruamel's safe loader rather than the package's own reader."""
    return [doc for doc in YAML(typ="safe", pure=True).load_all(text) if doc]


def container_images(text: str) -> dict[str, str]:
    """``Kind/name/container`` -> image, for every container and init container rendered."""
    found: dict[str, str] = {}
    for obj in objects(text):
        meta = obj.get("metadata") or {}
        assert isinstance(meta, dict)
        spec = obj.get("spec") or {}
        assert isinstance(spec, dict)
        pod = spec.get("template", {}).get("spec", {}) if "template" in spec else spec
        for key in ("initContainers", "containers"):
            for container in pod.get(key) or []:
                found[f"{obj['kind']}/{meta['name']}/{container['name']}"] = container["image"]
    return found


def retag(reference: str, tag: str) -> str:
    """``reference`` with its tag replaced by ``tag`` and any digest dropped (written here, apart
    from the package's own image grammar, to predict what a render must show)."""
    name = reference.split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return f"{name[:colon] if colon > slash else name}:{tag}"


# --- the guide's app as a Helm chart (deploy and release-set tests) ---------------------------

IMAGE = "ikubernetes/myapp:v1"
# the image as charts usually build it: in a helper, the tag defaulting to the chart's appVersion
HELPERS = """\
{{- define "myapp.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end }}
"""


def chart_files() -> dict[str, str]:
    """The guide's app as a chart (``charts/myapp``, tag v0 in its values) with the prod tag
    (v1) in ``envs/prod/values.yaml``, outside the chart."""
    manifests = guide_manifests()
    rollout = manifests["rollout.yaml"].replace(IMAGE, '"{{ include "myapp.image" . }}"')
    assert rollout != manifests["rollout.yaml"]
    return {
        "charts/myapp/Chart.yaml": "apiVersion: v2\nname: myapp\nversion: 0.1.0\n",
        "charts/myapp/templates/_helpers.tpl": HELPERS,
        "charts/myapp/values.yaml": "image:\n  repository: ikubernetes/myapp\n  tag: v0\n",
        "charts/myapp/templates/rollout.yaml": rollout,
        "charts/myapp/templates/service.yaml": manifests["service.yaml"],
        "charts/myapp/templates/ingress.yaml": manifests["ingress.yaml"],
        "envs/prod/values.yaml": "image:\n  tag: v1  # prod\n",
    }


def push(env: Env, files: dict[str, str]) -> None:
    """Write ``files`` in the GitOps checkout, commit them and push."""
    for name, text in files.items():
        (env.repo / name).parent.mkdir(parents=True, exist_ok=True)
        (env.repo / name).write_text(text)
    env.git("add", ".")
    env.git("commit", "-qm", "apps")
    env.git("push", "-q", "origin", "main")
