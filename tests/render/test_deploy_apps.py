"""Helm and Kustomize apps deployed on the sandbox through ``deploy``: the sandbox renders them
with the real ``helm template`` / ``kubectl kustomize`` (as Argo CD's repo-server does), the
release stops at preview-ready with the new version on the test host, and ``promote`` puts it on
the prod host (issue 13).

The apps are the guide's (Rollout, Services, IngressRoute), written as a chart whose image
comes from values per environment, and as a kustomize base with a prod overlay.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import Env, guide_manifests
from tests.render.conftest import Tool, chart_files, push


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


def release_v2(env: Env, app_yaml: str, *, rendered: str | None = None) -> str:
    """Create the app, deploy v2 to preview-ready (``-o json``: with ``rendered``, the JSON
    must report the render's image in that container), promote it; the files the release changed."""
    path = env.tmp / "app.yaml"
    path.write_text(app_yaml)
    env.ok("app", "create", "--file", str(path))
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    data = json.loads(env.ok("deploy", "v2", "--app", "myapp", "--timeout", "60s", "-o", "json"))
    assert data["outcome"] == "preview-ready", data
    if rendered is not None:
        assert data["render"].startswith("helm template") or "kustomize" in data["render"], data
        assert {r["container"]: r["image"] for r in data["rendered"]} == {"myapp": rendered}
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
    changed = release_v2(git_env, application(git_env, source), rendered="ikubernetes/myapp:v2")
    assert changed == "envs/prod/values.yaml"
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
    changed = release_v2(git_env, application(git_env, source), rendered="ikubernetes/myapp:v2")
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


def app_json(env: Env) -> dict[str, object]:
    import json
    import urllib.request

    req = urllib.request.Request(
        env.sb.argocd_url + "/api/v1/applications/myapp",
        headers={"Authorization": f"Bearer {env.sb.token}"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        data = json.loads(resp.read())
    assert isinstance(data, dict)
    return data


def sync_call(env: Env, body: dict[str, object]) -> tuple[int, str]:
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        env.sb.argocd_url + "/api/v1/applications/myapp/sync",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {env.sb.token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, ""
    except urllib.error.HTTPError as err:
        return err.code, str(json.loads(err.read())["message"])


def test_a_multi_source_app_is_pinned_to_its_values_sources_revision(
    git_env: Env, helm: Tool, capsys: pytest.CaptureFixture[str]
) -> None:
    """The chart in its own repository, the values in the GitOps one: Argo CD reports one
    revision per source (``status.sync.revisions``, ``syncResult.revisions``,
    ``history[].revisions``), and ``deploy`` waits for the values source's to hold its commit;
    ``history`` reads the release commits from the values source."""
    import subprocess

    charts = git_env.tmp / "charts"
    for name, text in chart_files().items():
        if name.startswith("charts/"):
            (charts / name).parent.mkdir(parents=True, exist_ok=True)
            (charts / name).write_text(text)
    git_env_vars = {**__import__("os").environ, **git_env.sb.git_env()}
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["commit", "-qm", "chart"],
        ["push", "-q", git_env.sb.repo_url("charts"), "main"],
    ):
        subprocess.run(["git", *args], cwd=charts, env=git_env_vars, check=True)
    chart_sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=charts, capture_output=True, text=True, check=True
    ).stdout.strip()
    push(git_env, {"envs/prod/values.yaml": "image:\n  repository: ikubernetes/myapp\n  tag: v1\n"})
    values_sha = git_env.git("rev-parse", "HEAD")
    source = f"""\
  sources:
    - repoURL: {git_env.sb.repo_url("charts")}
      path: charts/myapp
      targetRevision: main
      helm:
        valueFiles: [$values/envs/prod/values.yaml]
    - repoURL: {{repo}}
      targetRevision: main
      ref: values"""
    assert release_v2(git_env, application(git_env, source)) == "envs/prod/values.yaml"
    release_sha = git_env.git("rev-parse", "HEAD")
    status = app_json(git_env)["status"]
    assert isinstance(status, dict)
    assert status["sync"]["revisions"] == [chart_sha, release_sha]
    assert "revision" not in status["sync"]
    assert status["operationState"]["syncResult"]["revisions"] == [chart_sha, release_sha]
    history = status["history"]
    assert [h["revisions"] for h in history] == [[chart_sha, values_sha], [chart_sha, release_sha]]
    assert all("revision" not in h and len(h["sources"]) == 2 for h in history)
    refused = sync_call(git_env, {"revisions": [values_sha], "sourcePositions": [2]})
    assert refused == (
        400,
        f"Cannot sync source {git_env.sb.repo_url('gitops')} to {values_sha}: "
        "auto-sync currently set to main",
    )
    assert sync_call(git_env, {"revisions": ["x"], "sourcePositions": [3]}) == (
        400,
        "source position is out of range",
    )
    out = git_env.ok("history", "myapp", "-o", "json")
    import json

    rows = json.loads(out)
    rows = rows["history"] if isinstance(rows, dict) else rows
    assert rows[0]["image"] == "ikubernetes/myapp:v2"
    assert rows[0]["previous"] == "ikubernetes/myapp:v1"
    # Git unreadable here: Argo CD's revision metadata, asked of the values source (sourceIndex)
    code, out, err = git_env.cli(
        "history", "myapp", "--repo", str(git_env.tmp / "nowhere"), "-o", "json"
    )
    assert code == 0, err
    rows = json.loads(out)
    rows = rows["history"] if isinstance(rows, dict) else rows
    assert (rows[0]["revision"], rows[0]["image"]) == (release_sha, "ikubernetes/myapp:v2")
    # rollback: a Git change in the values source, found from its release commits
    data = json.loads(git_env.ok("rollback", "myapp", "--timeout", "60s", "-o", "json"))
    assert (data["from_image"], data["to_image"]) == (
        "ikubernetes/myapp:v2",
        "ikubernetes/myapp:v1",
    )
    assert data["outcome"] in ("preview-ready", "released")
    git_env.git("pull", "-q", "origin", "main")
    assert "tag: v1" in (git_env.repo / "envs/prod/values.yaml").read_text()
    revisions = app_json(git_env)["status"]["sync"]["revisions"]  # type: ignore[index]
    assert revisions == [chart_sha, git_env.git("rev-parse", "HEAD")]


def packaged(members: dict[str, str]) -> bytes:
    """A chart archive as ``helm package`` lays it out (one top directory)."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("form", ["directory", "packaged"])
def test_a_chart_whose_workload_is_in_a_subchart(
    git_env: Env, helm: Tool, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    """The Rollout lives in subchart ``web`` (its defaults name the repository); the parent's
    values set ``web.image.tag``, which ``deploy`` bumps; a packaged subchart is only read."""
    sub = {
        name.replace("charts/myapp/", "web/"): text
        for name, text in chart_files().items()
        if name.startswith("charts/myapp/")
    }
    sub["web/Chart.yaml"] = "apiVersion: v2\nname: web\nversion: 0.1.0\n"
    files: dict[str, str] = {
        "charts/myapp/Chart.yaml": (
            "apiVersion: v2\nname: myapp\nversion: 0.1.0\n"
            "dependencies:\n  - name: web\n    version: 0.1.0\n"
        ),
        "charts/myapp/values.yaml": "web:\n  image:\n    tag: v1  # the release\n",
    }
    push(git_env, files)
    if form == "directory":
        push(git_env, {f"charts/myapp/charts/{name}": text for name, text in sub.items()})
    else:
        archive = git_env.repo / "charts/myapp/charts/web-0.1.0.tgz"
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.write_bytes(packaged(sub))
        git_env.git("add", ".")
        git_env.git("commit", "-qm", "packaged subchart")
        git_env.git("push", "-q", "origin", "main")
    charts = git_env.repo / "charts/myapp/charts"
    before = {p: p.read_bytes() for p in charts.rglob("*") if p.is_file()}
    source = """\
  source:
    repoURL: {repo}
    path: charts/myapp
    targetRevision: main"""
    assert release_v2(git_env, application(git_env, source)) == "charts/myapp/values.yaml"
    values = (git_env.repo / "charts/myapp/values.yaml").read_text()
    assert values == "web:\n  image:\n    tag: v2  # the release\n"
    after = {p: p.read_bytes() for p in charts.rglob("*") if p.is_file()}
    assert after == before


def test_a_kustomize_overlay_with_a_component_that_pins_the_image(
    git_env: Env, kubectl: Tool, capsys: pytest.CaptureFixture[str]
) -> None:
    """The overlay names no image; its component's ``images:`` entry decides the render, so
    that is the file ``deploy`` edits."""
    files = kustomize_files()
    files["kustomize/base/kustomization.yaml"] = (
        "resources:\n  - rollout.yaml\n  - service.yaml\n  - ingress.yaml\n"
    )
    files["kustomize/components/release/kustomization.yaml"] = (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        "images:\n  - name: ikubernetes/myapp\n    newTag: v1\n"
    )
    files["kustomize/overlays/prod/kustomization.yaml"] += (
        "components:\n  - ../../components/release\n"
    )
    push(git_env, files)
    source = """\
  source:
    repoURL: {repo}
    path: kustomize/overlays/prod
    targetRevision: main"""
    changed = release_v2(git_env, application(git_env, source))
    assert changed == "kustomize/components/release/kustomization.yaml"
    text = (git_env.repo / changed).read_text()
    assert text.endswith("images:\n  - name: ikubernetes/myapp\n    newTag: v2\n")
