"""Where an image lives, whose credentials apply, which tags are nearest (pure)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gitops_release.images import parse_image
from gitops_release.output import redact
from gitops_release.registry.credentials import find_credentials
from gitops_release.registry.names import locate
from gitops_release.registry.nearest import nearest_tags


@pytest.mark.parametrize(
    ("image", "host", "repository", "insecure"),
    [
        ("nginx:1.27", "registry-1.docker.io", "library/nginx", False),
        ("docker.io/nginx", "registry-1.docker.io", "library/nginx", False),
        ("ikubernetes/myapp:v2", "registry-1.docker.io", "ikubernetes/myapp", False),
        ("localhost:5000/team/app:v1", "localhost:5000", "team/app", True),
        ("127.0.0.1:5000/app:v1", "127.0.0.1:5000", "app", True),
        ("registry.example.com:8443/a/b/c:v1", "registry.example.com:8443", "a/b/c", False),
        ("registry.gitlab.com/group/project/app:1.4.0", "registry.gitlab.com", "group/project/app", False),
    ],
)  # fmt: skip
def test_docker_naming_rules(image: str, host: str, repository: str, insecure: bool) -> None:
    loc = locate(parse_image(image))
    assert (loc.host, loc.repository, loc.insecure) == (host, repository, insecure)


def test_insecure_registry_matches_with_or_without_the_port() -> None:
    ref = parse_image("registry.internal:5000/app:v1")
    assert locate(ref, ["registry.internal"]).insecure
    assert locate(ref, ["registry.internal:5000"]).insecure
    assert not locate(ref, ["other.internal"]).insecure


def _docker_config(tmp_path: Path, data: dict[str, object]) -> dict[str, str]:
    (tmp_path / "config.json").write_text(json.dumps(data))
    return {"DOCKER_CONFIG": str(tmp_path)}


def test_first_found_wins_and_ci_registry_is_for_its_host_only(tmp_path: Path) -> None:
    auth = base64.b64encode(b"cfg-user:cfg-pass-1234").decode()
    env = _docker_config(tmp_path, {"auths": {"reg.example.com": {"auth": auth}}})
    ci = {"CI_REGISTRY": "reg.example.com", "CI_REGISTRY_USER": "gitlab-ci-token",
          "CI_REGISTRY_PASSWORD": "ci-job-token-5678"}  # fmt: skip
    ours = {"GITOPS_RELEASE_REGISTRY_USER": "me", "GITOPS_RELEASE_REGISTRY_PASSWORD": "pw-9999"}
    assert find_credentials("reg.example.com", env).credentials.user == "cfg-user"  # type: ignore[union-attr]
    assert find_credentials("reg.example.com", {**env, **ci}).credentials.user == "gitlab-ci-token"  # type: ignore[union-attr]
    assert find_credentials("other.example.com", {**env, **ci}).credentials is None
    assert find_credentials("reg.example.com", {**env, **ci, **ours}).credentials.user == "me"  # type: ignore[union-attr]
    assert redact("cfg-pass-1234 ci-job-token-5678 pw-9999") == "*** *** ***"


def test_docker_hub_credentials_under_the_index_key(tmp_path: Path) -> None:
    auth = base64.b64encode(b"hubuser:hub-pass-42").decode()
    env = _docker_config(tmp_path, {"auths": {"https://index.docker.io/v1/": {"auth": auth}}})
    found = find_credentials(locate(parse_image("nginx")).registry, env).credentials
    assert found is not None and found.user == "hubuser"


def test_a_credential_helper_is_named_not_run(tmp_path: Path) -> None:
    env = _docker_config(tmp_path, {"credHelpers": {"123.dkr.ecr.aws": "ecr-login"}})
    lookup = find_credentials("123.dkr.ecr.aws", env)
    assert lookup.credentials is None
    assert "credential helper 'ecr-login'" in lookup.note


def test_nearest_tags_by_version_then_edit_distance() -> None:
    tags = ["v1.4.0", "v1.4.2", "v1.5.0", "v2.0.0", "latest", "main"]
    assert nearest_tags("v1.4.3", tags, 3) == ["v1.4.2", "v1.4.0", "v1.5.0"]
    assert nearest_tags("lateset", tags, 1) == ["latest"]
