"""Helm and Kustomize apps deployed on the sandbox through ``deploy``: the sandbox renders them
with the real ``helm template`` / ``kubectl kustomize`` (as Argo CD's repo-server does), the
release stops at preview-ready with the new version on the test host, and ``promote`` puts it on
the prod host (issue 13).

The apps are the guide's (Rollout, Services, IngressRoute), written as a chart whose image
comes from values per environment, and as a kustomize base with a prod overlay.
"""

from __future__ import annotations

import pytest

from tests.conftest import Env, guide_manifests
from tests.render.conftest import Tool

IMAGE = "ikubernetes/myapp:v1"


def chart_files() -> dict[str, str]:
    manifests = guide_manifests()
    rollout = manifests["rollout.yaml"].replace(
        IMAGE, '"{{ .Values.image.repository }}:{{ .Values.image.tag }}"'
    )
    assert rollout != manifests["rollout.yaml"]
    return {
        "charts/myapp/Chart.yaml": "apiVersion: v2\nname: myapp\nversion: 0.1.0\n",
        "charts/myapp/values.yaml": "image:\n  repository: ikubernetes/myapp\n  tag: v0\n",
        "charts/myapp/templates/rollout.yaml": rollout,
        "charts/myapp/templates/service.yaml": manifests["service.yaml"],
        "charts/myapp/templates/ingress.yaml": manifests["ingress.yaml"],
        "envs/prod/values.yaml": "image:\n  tag: v1  # prod\n",
    }


def kustomize_files() -> dict[str, str]:
    manifests = guide_manifests()
    files = {f"kustomize/base/{name}": text for name, text in manifests.items()}
    files["kustomize/base/kustomization.yaml"] = (
        "resources:\n  - rollout.yaml\n  - service.yaml\n  - ingress.yaml\n"
        "images:\n  - name: ikubernetes/myapp\n    newTag: v1\n"
    )
    files["kustomize/overlays/prod/kustomization.yaml"] = (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources:\n  - ../../base\nlabels:\n  - pairs: {env: prod}\n"
    )
    return files


def application(env: Env, source: str) -> str:
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: myapp
  namespace: argocd
spec:
  project: default
  destination:
    namespace: default
    server: https://kubernetes.default.svc
{source.format(repo=env.sb.repo_url("gitops"))}
  syncPolicy:
    automated: {{}}
"""


def push(env: Env, files: dict[str, str]) -> None:
    for name, text in files.items():
        (env.repo / name).parent.mkdir(parents=True, exist_ok=True)
        (env.repo / name).write_text(text)
    env.git("add", ".")
    env.git("commit", "-qm", "apps")
    env.git("push", "-q", "origin", "main")


def release_v2(env: Env, app_yaml: str) -> str:
    path = env.tmp / "app.yaml"
    path.write_text(app_yaml)
    env.ok("app", "create", "--file", str(path))
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    out = env.ok("deploy", "v2", "--app", "myapp", "--timeout", "60s")
    assert "preview-ready" in out
    assert "Version: v2" in str(env.host("test.myapp.com"))
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    env.ok("promote", "myapp", "--wait", "--timeout", "60s")
    assert "Version: v2" in str(env.host("prod.myapp.com"))
    env.git("pull", "-q", "origin", "main")
    return env.git("show", "--name-only", "--format=", "HEAD")


def test_a_chart_with_values_per_environment(
    git_env: Env, helm: Tool, capsys: pytest.CaptureFixture[str]
) -> None:
    push(git_env, chart_files())
    source = """\
  source:
    repoURL: {repo}
    path: charts/myapp
    targetRevision: main
    helm:
      valueFiles: [values.yaml, ../../envs/prod/values.yaml]"""
    assert release_v2(git_env, application(git_env, source)) == "envs/prod/values.yaml"
    assert (git_env.repo / "envs/prod/values.yaml").read_text() == "image:\n  tag: v2  # prod\n"


def test_a_kustomize_overlay_on_a_base(
    git_env: Env, kubectl: Tool, capsys: pytest.CaptureFixture[str]
) -> None:
    push(git_env, kustomize_files())
    source = """\
  source:
    repoURL: {repo}
    path: kustomize/overlays/prod
    targetRevision: main"""
    changed = release_v2(git_env, application(git_env, source))
    assert changed == "kustomize/base/kustomization.yaml"


def test_a_multi_source_application_releases_in_its_values_source(
    git_env: Env, helm: Tool, capsys: pytest.CaptureFixture[str]
) -> None:
    """The chart from one source, ``$values/envs/prod/values.yaml`` from the ``ref: values``
    source: ``deploy`` writes the image in the values source's file."""
    files = chart_files()
    files["envs/prod/values.yaml"] = "image:\n  repository: ikubernetes/myapp\n  tag: v1\n"
    push(git_env, files)
    source = """\
  sources:
    - repoURL: {repo}
      path: charts/myapp
      targetRevision: main
      helm:
        valueFiles: [$values/envs/prod/values.yaml]
    - repoURL: {repo}
      targetRevision: main
      ref: values"""
    assert release_v2(git_env, application(git_env, source)) == "envs/prod/values.yaml"
    assert "tag: v2" in (git_env.repo / "envs/prod/values.yaml").read_text()
    code, out, err = git_env.cli("bump-image", "v3", "--argocd-app", "myapp", "--dry-run")
    assert code == 0, err
    assert "+++ b/envs/prod/values.yaml" in out and "+  tag: v3" in out
