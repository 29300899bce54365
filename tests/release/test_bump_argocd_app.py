"""``bump-image --argocd-app NAME``: repository, path and branch from the Argo CD Application,
on the sandbox (real sockets, a real push to its git server)."""

from __future__ import annotations

import json
import urllib.request

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


def test_an_application_that_overrides_the_image_is_warned_about(env: Env) -> None:
    # Give the Application a kustomize images override through the API (PUT = update).
    url = f"{env.sb.argocd_url}/api/v1/applications/myapp"
    headers = {"Authorization": f"Bearer {env.sb.token}", "Content-Type": "application/json"}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as resp:
        app = json.load(resp)
    app["spec"]["source"]["kustomize"] = {"images": ["ikubernetes/myapp:v1"]}
    body = json.dumps(app).encode()
    req = urllib.request.Request(url, data=body, headers=headers, method="PUT")
    with urllib.request.urlopen(req, timeout=10):
        pass
    code, _, err = env.cli("bump-image", "v2", "--argocd-app", "myapp")
    assert code == 0, err
    assert "overrides the image in Argo CD itself: spec.source.kustomize.images" in err


def test_unknown_application_and_missing_app_are_clear_errors(env: Env) -> None:
    code, _, err = env.cli("bump-image", "v2", "--argocd-app", "nosuchapp")
    assert code == 4 and "nosuchapp" in err and "not found" in err
    code, _, err = env.cli("bump-image", "v2")
    assert code == 2 and "--argocd-app" in err
