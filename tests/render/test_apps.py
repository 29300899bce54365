"""Real-world-shaped Helm and Kustomize apps, bumped with ``bump-image`` and rendered with the
real ``helm template`` and ``kubectl kustomize``: the render shows the new image, and only the
file that decides it changed (issue 13).

The apps: a chart with templates and helpers, a chart with a subchart, values per environment,
and a kustomize base with two overlays and a component.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_release.cli import main
from tests.conftest import GitRemote, git
from tests.render.conftest import Tool, container_images

HELPERS = """\
{{- define "web.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "web.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
{{- define "web.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{ .Values.image.repository }}:{{ $tag }}{{ with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      {{- include "web.labels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "web.labels" . | nindent 8 }}
    spec:
      containers:
        - name: web
          image: "{{ include "web.image" . }}"
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
"""
VALUES = """\
# Default values for web.
replicaCount: 2

image:
  repository: ghcr.io/team/web
  # Overrides the image tag whose default is the chart appVersion.
  tag: "1.19"
  digest: ""

resources: {}
"""
SUB_CHART = "apiVersion: v2\nname: cache\nversion: 0.2.0\nappVersion: 7.0.0\n"
SUB_VALUES = "image:\n  repository: team/cache\n  tag: 7.0.0\n"
SUB_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-cache
spec:
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers:
        - name: cache
          image: {{ printf "%s:%s" .Values.image.repository (.Values.image.tag | toString) | quote }}
"""


def web_chart(subchart: bool = False) -> dict[str, str]:
    files = {
        "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: '1.0'\n",
        "charts/web/values.yaml": VALUES,
        "charts/web/templates/_helpers.tpl": HELPERS,
        "charts/web/templates/deployment.yaml": DEPLOYMENT,
        "charts/web/.helmignore": "*.swp\n",
    }
    if subchart:
        files["charts/web/values.yaml"] = VALUES + "cache:\n  image:\n    tag: 7.0.1\n"
        files["charts/web/charts/cache/Chart.yaml"] = SUB_CHART
        files["charts/web/charts/cache/values.yaml"] = SUB_VALUES
        files["charts/web/charts/cache/templates/deployment.yaml"] = SUB_DEPLOYMENT
    return files


def add_files(checkout: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text(text)
    git(checkout, "add", ".")
    git(checkout, "commit", "-q", "-m", "add apps")
    git(checkout, "push", "-q", "origin", "HEAD")


def bump(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code = main(["bump-image", *args, "-o", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    assert isinstance(data, dict)
    return data


def changed_files(checkout: Path) -> list[str]:
    return git(checkout, "show", "--name-only", "--format=", "HEAD").splitlines()


@pytest.fixture
def repo(git_remote: GitRemote, monkeypatch: pytest.MonkeyPatch) -> GitRemote:
    monkeypatch.chdir(git_remote.checkout)
    return git_remote


def test_a_chart_with_templates_and_helpers(
    repo: GitRemote, helm: Tool, capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(repo.checkout, web_chart())
    data = bump(capsys, "1.20", "--app", "charts/web")
    assert changed_files(repo.checkout) == ["charts/web/values.yaml"]
    assert data["new"] == "ghcr.io/team/web:1.20"
    out = helm.output("template", "myapp", "charts/web", cwd=repo.checkout)
    assert container_images(out) == {"Deployment/myapp-web/web": "ghcr.io/team/web:1.20"}
    digest = "sha256:" + "5" * 64
    data = bump(capsys, f"ghcr.io/team/web:1.21@{digest}", "--app", "charts/web")
    out = helm.output("template", "myapp", "charts/web", cwd=repo.checkout)
    assert container_images(out) == {"Deployment/myapp-web/web": data["new"]}


def test_a_chart_with_a_subchart(
    repo: GitRemote, helm: Tool, capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(repo.checkout, web_chart(subchart=True))
    data = bump(capsys, "7.2.0", "--app", "charts/web", "--value-path", "cache.image")
    assert changed_files(repo.checkout) == ["charts/web/values.yaml"]
    assert (data["yaml_path"], data["new"]) == ("cache.image.tag", "team/cache:7.2.0")
    out = helm.output("template", "myapp", "charts/web", cwd=repo.checkout)
    assert container_images(out) == {
        "Deployment/myapp-web/web": "ghcr.io/team/web:1.19",
        "Deployment/myapp-cache/cache": "team/cache:7.2.0",
    }


def test_values_per_environment(
    repo: GitRemote, helm: Tool, capsys: pytest.CaptureFixture[str]
) -> None:
    envs = {
        "envs/staging/values.yaml": "replicaCount: 1\n",
        "envs/prod/values.yaml": "replicaCount: 5\nimage:\n  tag: '1.18'  # prod lags\n",
    }
    add_files(repo.checkout, {**web_chart(), **envs})
    for env, expect_file in (("prod", "envs/prod/values.yaml"), ("staging", None)):
        order = ["--values-file", "values.yaml", "--values-file", f"../../envs/{env}/values.yaml"]
        data = bump(capsys, "1.20", "--app", "charts/web", *order)
        assert data["file"] == (expect_file or "charts/web/values.yaml")
        out = helm.output(
            "template", "myapp", "charts/web", "-f", f"envs/{env}/values.yaml", cwd=repo.checkout
        )
        assert container_images(out) == {"Deployment/myapp-web/web": "ghcr.io/team/web:1.20"}


BASE = {
    "kustomize/base/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: team/web
    newTag: v1
""",
    "kustomize/base/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: team/web
""",
    "kustomize/components/proxy/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
  - path: sidecar.yaml
""",
    "kustomize/components/proxy/sidecar.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: proxy
          image: team/proxy:1.0
""",
    "kustomize/overlays/prod/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: prod
resources:
  - ../../base
components:
  - ../../components/proxy
images:
  - name: team/web
    newTag: v1-prod
""",
    "kustomize/overlays/staging/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: staging
resources:
  - ../../base
""",
}


def test_a_kustomize_base_with_overlays_and_a_component(
    repo: GitRemote, kubectl: Tool, capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(repo.checkout, BASE)

    def render(overlay: str) -> dict[str, str]:
        return container_images(
            kubectl.output("kustomize", f"kustomize/overlays/{overlay}", cwd=repo.checkout)
        )

    # prod names the image itself: its entry decides, the base stays
    data = bump(capsys, "v2", "--app", "kustomize/overlays/prod", "--image-name", "team/web")
    assert changed_files(repo.checkout) == ["kustomize/overlays/prod/kustomization.yaml"]
    assert data["file"] == "kustomize/overlays/prod/kustomization.yaml"
    assert render("prod") == {
        "Deployment/web/web": "team/web:v2",
        "Deployment/web/proxy": "team/proxy:1.0",
    }
    assert render("staging") == {"Deployment/web/web": "team/web:v1"}
    # staging has no images entry: the base's decides (its deployment.yaml only names the
    # image the entry rewrites, so it stays)
    data = bump(capsys, "v3", "--app", "kustomize/overlays/staging")
    assert data["file"] == "kustomize/base/kustomization.yaml"
    assert changed_files(repo.checkout) == ["kustomize/base/kustomization.yaml"]
    assert render("staging") == {"Deployment/web/web": "team/web:v3"}
    # the component's sidecar, from the prod overlay
    data = bump(capsys, "1.1", "--app", "kustomize/overlays/prod", "--image-name", "team/proxy")
    assert changed_files(repo.checkout) == ["kustomize/components/proxy/sidecar.yaml"]
    assert render("prod") == {
        "Deployment/web/web": "team/web:v2",
        "Deployment/web/proxy": "team/proxy:1.1",
    }
