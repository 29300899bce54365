"""bump-image on a chart or a kustomization renders the result with the real helm / kubectl
and reports what will be deployed (``rendered``); a render that disagrees with the edit stops
it before the commit (exit 2, nothing written). Without the tool it says so and goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_release.cli import main
from tests.conftest import GitRemote, git
from tests.render.conftest import Tool

CHART_YAML = "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: '1.0'\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
"""
VALUES = 'image:\n  repository: team/web\n  tag: "1.19"\n  digest: ""\n'
DIGEST = "sha256:" + "cd" * 32


def add_files(checkout: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = checkout / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(checkout, "add", ".")
    git(checkout, "commit", "-q", "-m", "add app")
    git(checkout, "push", "-q", "origin", "HEAD")
    return git(checkout, "rev-parse", "HEAD")


def chart(template: str = DEPLOYMENT, values: str = VALUES) -> dict[str, str]:
    return {
        "chart/Chart.yaml": CHART_YAML,
        "chart/values.yaml": values,
        "chart/templates/deployment.yaml": template,
    }


@pytest.fixture
def repo(git_remote: GitRemote, monkeypatch: pytest.MonkeyPatch) -> GitRemote:
    monkeypatch.chdir(git_remote.checkout)
    return git_remote


def bump(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["bump-image", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_chart_bump_reports_what_helm_renders(
    repo: GitRemote, helm: Tool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_HELM", str(helm.path))
    add_files(repo.checkout, chart())
    code, out, err = bump(capsys, "1.20", "--app", "chart", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["render"] == "helm template"
    assert data["rendered"] == [
        {"workload": "Deployment/chart", "container": "web", "image": "team/web:1.20"}
    ]
    code, out, err = bump(capsys, "1.21", "--app", "chart")
    assert code == 0, err
    assert "rendered (helm template): Deployment/chart web team/web:1.21" in out


def test_a_render_that_disagrees_stops_the_bump_before_the_commit(
    repo: GitRemote, helm: Tool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The values hold a ``digest`` key the template never reads: writing it would report a
    pinned image while Argo CD deploys an unpinned one."""
    monkeypatch.setenv("GITOPS_RELEASE_HELM", str(helm.path))
    head = add_files(repo.checkout, chart())
    code, out, err = bump(capsys, f"team/web:1.20@{DIGEST}", "--app", "chart", "-o", "json")
    assert code == 2, err
    message = json.loads(out)["error"]["message"]
    assert "chart/values.yaml" in message
    assert "helm template renders team/web:1.20 (Deployment/chart web)" in message
    assert f"team/web:1.20@{DIGEST}" in message
    assert (repo.checkout / "chart/values.yaml").read_text() == VALUES
    assert git(repo.checkout, "rev-parse", "HEAD") == head
    assert git(repo.checkout, "status", "--porcelain") == ""


def test_a_template_that_ignores_the_tag_is_caught(
    repo: GitRemote, helm: Tool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_HELM", str(helm.path))
    template = DEPLOYMENT.replace(
        ".Values.image.tag | default .Chart.AppVersion", ".Chart.AppVersion"
    )
    head = add_files(repo.checkout, chart(template=template))
    code, _, err = bump(capsys, "1.20", "--app", "chart", "--dry-run")
    assert code == 2
    assert "helm template renders team/web:1.0 (Deployment/chart web), not team/web:1.20" in err
    assert git(repo.checkout, "rev-parse", "HEAD") == head
    assert git(repo.checkout, "status", "--porcelain") == ""


def test_without_helm_the_bump_says_not_rendered_and_goes_on(
    repo: GitRemote,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_HELM", str(tmp_path / "no-helm"))
    head = add_files(repo.checkout, chart())
    code, out, err = bump(capsys, "1.20", "--app", "chart")
    assert code == 0, err
    assert "not rendered (helm not found" in out
    assert git(repo.checkout, "rev-parse", "HEAD") != head
    code, out, err = bump(capsys, "1.21", "--app", "chart", "-o", "json")
    data = json.loads(out)
    assert data["rendered"] is None
    assert data["render"].startswith("not rendered (helm not found")


KUSTOMIZATION = """\
resources:
  - deployment.yaml
images:
  - name: team/web
    newTag: "1.19"
"""
K_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: team/web
"""


def test_a_kustomize_overlay_bump_reports_what_kubectl_renders(
    repo: GitRemote,
    kubectl: Tool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_KUBECTL", str(kubectl.path))
    files = {
        "base/kustomization.yaml": KUSTOMIZATION,
        "base/deployment.yaml": K_DEPLOYMENT,
        "overlays/prod/kustomization.yaml": "resources:\n  - ../../base\nnamePrefix: prod-\n",
    }
    add_files(repo.checkout, files)
    code, out, err = bump(capsys, "1.20", "--app", "overlays/prod", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["file"] == "base/kustomization.yaml"
    assert data["render"] == "kubectl kustomize"
    assert data["rendered"] == [
        {"workload": "Deployment/prod-web", "container": "web", "image": "team/web:1.20"}
    ]


def test_plain_manifests_are_not_rendered(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    add_files(
        repo.checkout, {"app/deployment.yaml": K_DEPLOYMENT.replace("team/web", "team/web:1")}
    )
    code, out, err = bump(capsys, "2", "--app", "app", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert (data["render"], data["rendered"]) == (None, None)


def test_a_value_no_template_reads_is_warned_about_not_refused(
    repo: GitRemote, helm: Tool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part of the chart that is switched off renders nothing: the bump lands, and says so."""
    monkeypatch.setenv("GITOPS_RELEASE_HELM", str(helm.path))
    values = (
        VALUES + "cache:\n  enabled: false\n  image:\n    repository: team/cache\n    tag: 7.0.1\n"
    )
    add_files(repo.checkout, chart(values=values))
    args = ("--value-path", "cache.image.tag", "-o", "json")
    code, out, err = bump(capsys, "7.2.0", "--app", "chart", *args)
    assert code == 0, err
    assert json.loads(out)["rendered"] == []
    assert (
        "warning: chart/values.yaml: helm template renders no container with team/cache "
        "(it renders team/web:1.19 (Deployment/chart web))" in err
    )


def test_what_renders_is_a_progress_line_too_for_deploy_s_sake(
    repo: GitRemote, helm: Tool, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``deploy``, ``rollback`` and ``abort`` print only progress while they bump."""
    monkeypatch.setenv("GITOPS_RELEASE_HELM", str(helm.path))
    add_files(repo.checkout, chart())
    code, _, err = bump(capsys, "1.20", "--app", "chart", "-o", "json")
    assert code == 0, err
    assert "rendered (helm template): Deployment/chart web team/web:1.20" in err
    code, out, err = bump(capsys, "1.21", "--app", "chart", "--dry-run")
    assert code == 0, err
    assert out.rstrip().endswith("rendered (helm template): Deployment/chart web team/web:1.21")


def test_a_kustomization_that_cannot_change_an_image_is_not_rendered(
    repo: GitRemote,
    kubectl: Tool,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only resources, labels and names in every layer: the files' image is what renders, so
    kubectl is not run (a release set of 50 such apps ran it 100 times, 10x one app's bump);
    a layer with a patch could change the image, so that one is rendered."""
    ran = tmp_path / "ran"
    spy = tmp_path / "kubectl"
    spy.write_text(f'#!/bin/sh\necho "$@" >> {ran}\nexec {kubectl.path} "$@"\n')
    spy.chmod(0o755)
    monkeypatch.setenv("GITOPS_RELEASE_KUBECTL", str(spy))
    files = {
        "base/kustomization.yaml": "resources:\n  - deployment.yaml\ncommonLabels:\n  app: web\n",
        "base/deployment.yaml": K_DEPLOYMENT.replace("team/web", "team/web:1.19"),
        "overlays/prod/kustomization.yaml": "resources:\n  - ../../base\nnamePrefix: prod-\n",
    }
    add_files(repo.checkout, files)
    code, out, err = bump(capsys, "1.20", "--app", "overlays/prod", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["render"].startswith("not rendered (not needed: no layer transforms images")
    assert not ran.exists()  # kubectl never ran
    patch = (
        "patches:\n  - target:\n      kind: Deployment\n    patch: |-\n"
        "      - op: replace\n        path: /spec/template/spec/containers/0/image\n"
        "        value: team/web:patched\n"
    )
    add_files(
        repo.checkout,
        {"overlays/prod/kustomization.yaml": files["overlays/prod/kustomization.yaml"] + patch},
    )
    code, out, err = bump(capsys, "1.21", "--app", "overlays/prod", "-o", "json")
    assert code == 2, err  # the patch wins over the file: the render says so, nothing written
    assert "team/web:patched" in err
    assert ran.exists()


def test_a_kustomization_with_a_remote_base_is_not_rendered_here(
    repo: GitRemote,
    kubectl: Tool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kustomize would fetch it over the network (slow, or hanging where there is none)."""
    monkeypatch.setenv("GITOPS_RELEASE_KUBECTL", str(kubectl.path))
    remote = "https://github.com/example/base//deploy?ref=v1"
    files = {
        "k/kustomization.yaml": KUSTOMIZATION.replace(
            "  - deployment.yaml\n", f"  - deployment.yaml\n  - {remote}\n"
        ),
        "k/deployment.yaml": K_DEPLOYMENT,
    }
    add_files(repo.checkout, files)
    code, out, err = bump(capsys, "1.20", "--app", "k", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["render"] == f"not rendered (remote resource {remote})"


def test_the_renderer_never_sees_the_tokens(
    repo: GitRemote,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """helm and kubectl need no credentials of ours: their environment goes without them."""
    seen = tmp_path / "env.txt"
    fake = tmp_path / "fake-helm"
    fake.write_text(
        f"#!/bin/sh\nenv > {seen}\n"
        "printf 'kind: Deployment\\nmetadata: {name: chart}\\n"
        "spec: {template: {spec: {containers: [{name: web, image: team/web:1.20}]}}}\\n'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("GITOPS_RELEASE_HELM", str(fake))
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", "glpat-secret-123456")
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "argocd-secret-123456")
    add_files(repo.checkout, chart())
    code, out, err = bump(capsys, "1.20", "--app", "chart", "--no-push", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["rendered"][0]["image"] == "team/web:1.20"
    text = seen.read_text()
    assert "PATH=" in text
    assert "secret-123456" not in text
