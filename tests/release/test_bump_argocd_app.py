"""``bump-image --argocd-app NAME``: repository, path and branch from the Argo CD Application,
on the sandbox (real sockets, a real push to its git server)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.conftest import Env


@pytest.fixture
def env(git_env: Env) -> Env:
    git_env.create_app()
    return git_env


def remote_rollout(e: Env) -> str:
    e.git("pull", "-q", "origin", "main")
    return (e.repo / "myapp" / "rollout.yaml").read_text()


def test_bump_takes_repo_path_and_branch_from_the_application(env: Env) -> None:
    before = remote_rollout(env)
    code, stdout, err = env.cli("bump-image", "v2", "--argocd-app", "myapp", "-o", "json")
    assert code == 0, err
    data = json.loads(stdout)
    assert data["changed"] is True and data["pushed"] is True
    assert data["new"] == "ikubernetes/myapp:v2" and data["branch"] == "main"
    after = remote_rollout(env)
    assert after == before.replace("ikubernetes/myapp:v1", "ikubernetes/myapp:v2")
    assert "warning" not in err


def update_source(env: Env, **source: Any) -> None:
    """Change the Application's source through the API (PUT = update)."""
    url = f"{env.sb.argocd_url}/api/v1/applications/myapp"
    headers = {"Authorization": f"Bearer {env.sb.token}", "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
        app = json.load(resp)
    app["spec"]["source"].update(source)
    body = json.dumps(app).encode()
    req = urllib.request.Request(url, data=body, headers=headers, method="PUT")
    with urllib.request.urlopen(req, timeout=10):
        pass


def test_an_application_that_overrides_the_image_is_warned_about(env: Env) -> None:
    update_source(env, kustomize={"images": ["ikubernetes/myapp:v1"]})
    code, _, err = env.cli("bump-image", "v2", "--argocd-app", "myapp")
    assert code == 0, err
    assert "overrides the image in Argo CD itself: spec.source.kustomize.images" in err


def test_a_helm_values_override_in_the_application_is_warned_about(env: Env) -> None:
    update_source(env, helm={"valuesObject": {"image": {"tag": "v1"}}})
    code, _, err = env.cli("bump-image", "v2", "--argocd-app", "myapp")
    assert code == 0, err
    assert "overrides the image in Argo CD itself: spec.source.helm.valuesObject (image)" in err


CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "chart/values.yaml": "image:\n  repository: team/web\n  tag: v1\n",
    "chart/templates/deployment.yaml": "image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n",
    "envs/prod/values.yaml": "image:\n  tag: v1-prod  # prod runs its own build\n",
    "envs/test/values.yaml": "replicas: 1\n",
}


def test_bump_edits_the_last_of_the_applications_value_files_that_sets_the_image(
    env: Env,
) -> None:
    for name, text in CHART.items():
        (env.repo / name).parent.mkdir(parents=True, exist_ok=True)
        (env.repo / name).write_text(text)
    env.git("add", ".")
    env.git("commit", "-qm", "web chart")
    env.git("push", "-q", "origin", "main")
    files = ["values.yaml", "../envs/prod/values.yaml", "../envs/test/values.yaml"]
    update_source(env, path="chart", helm={"valueFiles": files})
    code, stdout, err = env.cli("bump-image", "v2", "--argocd-app", "myapp", "-o", "json")
    assert code == 0, err
    data = json.loads(stdout)
    assert (data["file"], data["old"], data["new"]) == (
        "envs/prod/values.yaml",
        "team/web:v1-prod",
        "team/web:v2",
    )
    env.git("pull", "-q", "origin", "main")
    assert (env.repo / "envs/prod/values.yaml").read_text() == CHART[
        "envs/prod/values.yaml"
    ].replace("v1-prod", "v2")
    assert (env.repo / "chart/values.yaml").read_text() == CHART["chart/values.yaml"]


def test_unknown_application_and_missing_app_are_clear_errors(env: Env) -> None:
    code, _, err = env.cli("bump-image", "v2", "--argocd-app", "nosuchapp")
    assert code == 4 and "nosuchapp" in err and "not found" in err
    code, _, err = env.cli("bump-image", "v2")
    assert code == 2 and "--argocd-app" in err


def test_an_app_path_that_names_an_argocd_app_suggests_argocd_app(env: Env) -> None:
    """Friction (issue 14): ``--app`` is a path in bump-image and an Argo CD app elsewhere.
    A path that does not exist but names an Argo CD Application says "did you mean
    --argocd-app NAME?" (exit 2, nothing changed); other paths, and runs without Argo CD
    configured (or unreachable), get the plain message."""
    env.monkeypatch.chdir(env.repo / "myapp")  # the classic slip: one directory too deep
    before = env.git("rev-parse", "HEAD")
    code, _, err = env.cli("bump-image", "v2", "--app", "myapp")
    assert code == 2, err
    assert "myapp/myapp: no such file or directory" in err
    assert "did you mean --argocd-app myapp?" in err
    code, _, err = env.cli("bump-image", "v2", "--app", "shop")
    assert code == 2 and "no such file or directory" in err and "did you mean" not in err
    env.monkeypatch.setenv("ARGOCD_SERVER", "http://127.0.0.1:9")  # configured, unreachable
    code, _, err = env.cli("bump-image", "v2", "--app", "myapp")
    assert code == 2 and "no such file or directory" in err and "did you mean" not in err
    env.monkeypatch.delenv("ARGOCD_SERVER")
    env.monkeypatch.delenv("ARGOCD_AUTH_TOKEN")  # not configured: not even asked
    requests_before = len(env.sb.requests)
    code, _, err = env.cli("bump-image", "v2", "--app", "myapp")
    assert code == 2 and "no such file or directory" in err and "did you mean" not in err
    assert len(env.sb.requests) == requests_before
    assert env.git("rev-parse", "HEAD") == before
