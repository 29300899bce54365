"""A Helm app whose image is in values files named by its Application, released in a set with a
plain app (issue 17): ``deploy --set``, ``bump-image --set ... --argocd-apps`` and ``env promote``
edit the chart app's values file (the one its Application names, not the chart's defaults) in the
set's ONE commit, and a failed set's revert commit puts that file back byte for byte.

The sandbox renders the chart with the real ``helm template``, as Argo CD's repo-server does."""

from __future__ import annotations

import json
import shutil

import pytest

from gitops_release.sandbox.server import Sandbox
from tests.conftest import APP_YAML, AUTO, Env, make_env
from tests.render.conftest import Tool, chart_files, push

PROD_VALUES = "envs/prod/values.yaml"
V1 = "image:\n  tag: v1  # prod\n"
CHART_DEFAULTS = "image:\n  repository: ikubernetes/myapp\n  tag: v0\n"
HELM_SOURCE = """\
  source:
    repoURL: {repo}
    path: charts/myapp
    targetRevision: main
    helm:
      valueFiles: [values.yaml, ../../envs/prod/values.yaml]
"""
MULTI_SOURCE = """\
  sources:
    - repoURL: {repo}
      path: charts/myapp
      targetRevision: main
      helm:
        valueFiles: [$values/envs/prod/values.yaml]
    - repoURL: {values}
      targetRevision: main
      ref: values
"""


def application(sb: Sandbox, name: str, source: str, *, values_repo: str = "gitops") -> str:
    """Application ``name`` in namespace ``name``, auto-synced, with ``source`` (a template)."""
    head, _, _ = APP_YAML.format(repo="", policy="").partition("  source:\n")
    head = head.replace("name: myapp\n", f"name: {name}\n").replace(
        "namespace: default\n", f"namespace: {name}\n"
    )
    body = source.format(repo=sb.repo_url("gitops"), values=sb.repo_url(values_repo))
    return head + body + AUTO


def create(env: Env, name: str, manifest: str) -> None:
    path = env.tmp / f"app-{name}.yaml"
    path.write_text(manifest)
    env.ok("app", "create", "--file", str(path))


def apps_on_v1(
    tmp_path, monkeypatch, capsys, sb: Sandbox, chart_source: str, names: tuple[str, ...],
    prod_values: str = V1,
) -> Env:  # fmt: skip
    """``api`` (the guide's plain manifests in ``api/``) and a chart app per name in ``names``
    (``charts/myapp``, its prod tag in ``envs/prod/values.yaml``), all released on v1."""
    env = make_env(tmp_path, monkeypatch, capsys, sb)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sb.git_token)
    shutil.move(env.repo / "myapp", env.repo / "api")
    push(env, {**chart_files(), PROD_VALUES: prod_values})
    create(env, "api", APP_YAML.format(repo=sb.repo_url("gitops"), policy=AUTO)
           .replace("name: myapp\n", "name: api\n").replace("path: myapp\n", "path: api\n")
           .replace("namespace: default\n", "namespace: api\n"))  # fmt: skip
    for name in names:
        create(env, name, application(sb, name, chart_source))
    for name in ("api", *names):
        env.ok("wait", name, "--for", "released", "--timeout", "60s")
    return env


@pytest.fixture
def pair(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sandbox: Sandbox,
    helm: Tool,
) -> Env:  # fmt: skip
    """``api`` (plain) and ``chartapp`` (a chart with ``valueFiles: [values.yaml,
    ../../envs/prod/values.yaml]``), both released on v1."""
    return apps_on_v1(tmp_path, monkeypatch, capsys, sandbox, HELM_SOURCE, ("chartapp",))


def test_deploy_set_with_a_chart_app_edits_its_values_file_in_the_one_commit(pair: Env) -> None:
    env = pair
    before = env.git("rev-parse", "HEAD")
    code, out, err = env.cli(
        "deploy", "--set", "api=v2", "--set", "chartapp=v2", "--timeout", "60s", "-o", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["outcome"] == "preview-ready", data
    assert {a["app"]: a["outcome"] for a in data["apps"]} == {
        "api": "preview-ready",
        "chartapp": "preview-ready",
    }
    env.git("pull", "-q", "origin", "main")
    assert env.git("rev-list", "--count", f"{before}..HEAD") == "1"
    changed = env.git("show", "--name-only", "--format=", "HEAD").splitlines()
    assert sorted(changed) == ["api/rollout.yaml", PROD_VALUES]
    assert (env.repo / PROD_VALUES).read_text() == "image:\n  tag: v2  # prod\n"
    assert (env.repo / "charts/myapp/values.yaml").read_text() == CHART_DEFAULTS
    message = env.git("log", "-1", "--format=%B")
    assert (
        "Release-Path: charts/myapp\nRelease-Values: values.yaml, ../../envs/prod/values.yaml\n"
        "Release-Image: ikubernetes/myapp:v2\n"
    ) in message
    assert "Release-Previous: ikubernetes/myapp:v1" in message
    env.ok("promote", "chartapp", "--wait", "--timeout", "60s")
    env.ok("wait", "chartapp", "--for", "released", "--image", "ikubernetes/myapp:v2")


def test_a_failed_set_reverts_the_chart_apps_values_file_byte_for_byte(pair: Env) -> None:
    env = pair
    env.sb.fail_image("ikubernetes/myapp:v3", "never-ready")
    before = env.git("rev-parse", "HEAD")
    code, _, err = env.cli(
        "deploy", "--set", "api=v2", "--set", "chartapp=v3", "--promote", "--timeout", "60s"
    )
    assert code == 1, err
    env.git("pull", "-q", "origin", "main")
    log = env.git("log", "--format=%s", f"{before}..HEAD").splitlines()
    assert len(log) == 2 and log[0].startswith("revert(api, chartapp): back to stable"), log
    release = env.git("show", "--name-only", "--format=", "HEAD~1").splitlines()
    assert sorted(release) == ["api/rollout.yaml", PROD_VALUES]
    assert env.git("show", f"HEAD~1:{PROD_VALUES}") == "image:\n  tag: v3  # prod"
    assert (env.repo / PROD_VALUES).read_text() == V1
    assert env.git("diff", before, "HEAD") == ""  # every file back as it was


def test_bump_image_set_of_applications_with_a_chart_app(pair: Env) -> None:
    env = pair
    before = env.git("rev-parse", "HEAD")
    code, out, err = env.cli(
        "bump-image", "--set", "api=v2", "--set", "chartapp=v2", "--argocd-apps", "-o", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["pushed"] is True
    assert {a["file"] for a in data["apps"]} == {"api/rollout.yaml", PROD_VALUES}
    env.git("pull", "-q", "origin", "main")
    assert env.git("rev-list", "--count", f"{before}..HEAD") == "1"
    assert (env.repo / PROD_VALUES).read_text() == "image:\n  tag: v2  # prod\n"
    assert (env.repo / "charts/myapp/values.yaml").read_text() == CHART_DEFAULTS


def test_a_multi_source_chart_app_is_released_in_a_set_through_its_values_source(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sandbox: Sandbox,
    helm: Tool,
) -> None:  # fmt: skip
    """The chart from one source, ``$values/envs/prod/values.yaml`` from the ``ref: values``
    source (the same GitOps repository as ``api``): the set writes that file (which names the
    repository too: the values source, read alone, has no chart defaults)."""
    values = "image:\n  repository: ikubernetes/myapp\n  tag: v1  # prod\n"
    env = apps_on_v1(tmp_path, monkeypatch, capsys, sandbox, MULTI_SOURCE, ("multi",), values)
    before = env.git("rev-parse", "HEAD")
    code, out, err = env.cli(
        "deploy", "--set", "api=v2", "--set", "multi=v2", "--timeout", "60s", "-o", "json"
    )
    assert code == 0, err
    assert json.loads(out)["outcome"] == "preview-ready"
    env.git("pull", "-q", "origin", "main")
    assert env.git("rev-list", "--count", f"{before}..HEAD") == "1"
    changed = env.git("show", "--name-only", "--format=", "HEAD").splitlines()
    assert sorted(changed) == ["api/rollout.yaml", PROD_VALUES]
    assert (env.repo / PROD_VALUES).read_text() == values.replace("v1", "v2")


def test_a_multi_source_app_whose_values_live_in_another_repository_is_refused(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sandbox: Sandbox,
) -> None:  # fmt: skip
    """Its values source is another repository than ``api``'s: a set is one commit, so it is
    refused (exit 2, nothing written), naming the values source and what to do instead."""
    env = make_env(tmp_path, monkeypatch, capsys, sandbox)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sandbox.git_token)
    create(env, "multi", application(sandbox, "multi", MULTI_SOURCE, values_repo="values"))
    create(env, "myapp", APP_YAML.format(repo=sandbox.repo_url("gitops"), policy=AUTO))
    before = env.git("ls-remote", "origin", "main")
    code, _, err = env.cli("bump-image", "--set", "myapp=v2", "--set", "multi=v2", "--argocd-apps")
    assert code == 2, err
    assert "multi writes its image in its values source" in err
    assert sandbox.repo_url("values") in err
    assert "one set per repository" in err
    assert env.git("ls-remote", "origin", "main") == before


ENVIRONMENTS = '[[environments]]\nname = "staging"\n\n[[environments]]\nname = "prod"\n'


def test_env_promote_of_a_plain_app_and_a_chart_app_is_one_commit(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sandbox: Sandbox,
    helm: Tool,
) -> None:  # fmt: skip
    """``chartapp-staging`` and ``chartapp-prod`` render one chart with their own values file
    (``envs/staging``, ``envs/prod``); ``env promote api chartapp`` writes prod's in the set's
    one commit, next to ``api-prod``'s manifest, and leaves staging's and the chart's alone."""
    env = make_env(tmp_path, monkeypatch, capsys, sandbox)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sandbox.git_token)
    for stage in ("staging", "prod"):
        shutil.copytree(env.repo / "myapp", env.repo / f"api-{stage}")
    shutil.rmtree(env.repo / "myapp")
    staging_values = "envs/staging/values.yaml"
    push(env, {**chart_files(), staging_values: "image:\n  tag: v1  # staging\n"})
    for stage in ("staging", "prod"):
        plain = (
            APP_YAML.format(repo=sandbox.repo_url("gitops"), policy=AUTO)
            .replace("name: myapp\n", f"name: api-{stage}\n")
            .replace("path: myapp\n", f"path: api-{stage}\n")
            .replace("namespace: default\n", f"namespace: api-{stage}\n")
        )
        create(env, f"api-{stage}", plain)
        chart = HELM_SOURCE.replace("envs/prod/", f"envs/{stage}/")
        create(env, f"chartapp-{stage}", application(sandbox, f"chartapp-{stage}", chart))
    for name in ("api-staging", "api-prod", "chartapp-staging", "chartapp-prod"):
        env.ok("wait", name, "--for", "released", "--timeout", "60s")
    for app in ("api", "chartapp"):
        env.ok("deploy", "v2", "--app", f"{app}-staging", "--promote", "--timeout", "60s")
    env.git("pull", "-q", "origin", "main")
    assert (env.repo / staging_values).read_text() == "image:\n  tag: v2  # staging\n"
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "gitops-release.toml").write_text(ENVIRONMENTS)
    monkeypatch.chdir(tmp_path / "work")
    before = env.git("rev-parse", "HEAD")
    code, out, err = env.cli(
        "env", "promote", "api", "chartapp", "--from", "staging", "--to", "prod", "--promote",
        "--timeout", "60s", "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["outcome"] == "released", data
    env.git("pull", "-q", "origin", "main")
    assert env.git("rev-list", "--count", f"{before}..HEAD") == "1"
    changed = env.git("show", "--name-only", "--format=", "HEAD").splitlines()
    assert sorted(changed) == ["api-prod/rollout.yaml", PROD_VALUES]
    assert (env.repo / PROD_VALUES).read_text() == "image:\n  tag: v2  # prod\n"
    assert env.git("log", "-1", "--format=%B").count("Promoted-From: staging@") == 2


def test_rollback_set_puts_the_chart_apps_values_file_back(pair: Env) -> None:
    """``rollback --set COMMIT`` edits the values file the set's commit edited (its
    ``Release-Values`` trailer), not the chart's defaults, which also name a tag."""
    env = pair
    code, _, err = env.cli("bump-image", "--set", "api=v2", "--set", "chartapp=v2", "--argocd-apps")
    assert code == 0, err
    env.git("pull", "-q", "origin", "main")
    release = env.git("rev-parse", "HEAD")
    assert "Release-Values: values.yaml, ../../envs/prod/values.yaml" in env.git(
        "log", "-1", "--format=%B"
    )
    code, _, err = env.cli("rollback", "--set", release, "--repo", env.sb.repo_url("gitops"))
    assert code == 0, err
    env.git("pull", "-q", "origin", "main")
    changed = env.git("show", "--name-only", "--format=", "HEAD").splitlines()
    assert sorted(changed) == ["api/rollout.yaml", PROD_VALUES]
    assert (env.repo / PROD_VALUES).read_text() == V1
    assert (env.repo / "charts/myapp/values.yaml").read_text() == CHART_DEFAULTS
    assert env.git("diff", f"{release}~1", "HEAD") == ""
