"""The registry client against the real registry: each auth mode, each manifest kind, Link
pagination, a re-pushed tag, a wrong password (refused, exit 4) and credentials never printed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gitops_release.errors import ExitCode
from gitops_release.images import parse_image
from gitops_release.output import redact
from gitops_release.registry.check import ImageCheck, ImageMissing
from gitops_release.registry.client import RegistryRefused

if TYPE_CHECKING:
    from tests.registry.conftest import Registry

USER, PASSWORD = "ci-bot", "s3cret-registry-pass"  # what the registry fixture's auth accepts


def _login(monkeypatch: pytest.MonkeyPatch, password: str = PASSWORD) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_REGISTRY_USER", USER)
    monkeypatch.setenv("GITOPS_RELEASE_REGISTRY_PASSWORD", password)


def test_each_manifest_kind_exists_with_its_digest_in_each_auth_mode(
    any_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = any_registry
    if reg.mode != "none":
        _login(monkeypatch)
    pushed = {
        "v1": (reg.push("team/app", "v1", reg.DOCKER_MANIFEST), reg.DOCKER_MANIFEST),
        "oci-1": (reg.push("team/app", "oci-1", reg.OCI_MANIFEST), reg.OCI_MANIFEST),
        "multi": (reg.push_index("team/app", "multi"), reg.OCI_INDEX),
    }
    check = ImageCheck()
    for tag, (digest, kind) in pushed.items():
        manifest = check.verify(parse_image(f"{reg.host}/team/app:{tag}"))
        assert manifest is not None
        assert (manifest.digest, manifest.media_type) == (digest, kind)
    by_digest = check.verify(parse_image(f"{reg.host}/team/app@{pushed['multi'][0]}"))
    assert by_digest is not None and by_digest.media_type == reg.OCI_INDEX


def test_a_missing_tag_names_the_nearest_existing_ones(
    registry: Registry,
) -> None:
    for tag in ("v1.4.0", "v1.4.1", "v1.5.0", "v2.0.0", "latest"):
        registry.push("team/app", tag)
    with pytest.raises(ImageMissing) as err:
        ImageCheck().verify(parse_image(f"{registry.host}/team/app:v1.4.3"))
    assert err.value.exit_code == ExitCode.USAGE
    assert err.value.nearest[:2] == ["v1.4.1", "v1.4.0"]
    assert f"registry {registry.host} has no tag v1.4.3 in team/app" in str(err.value)


def test_all_of_160_tags_are_read(registry: Registry) -> None:
    # distribution 2.8 ignores ?n= on tags/list (paging came in v3): one page of 160 here;
    # following Link pages is tested against a paging server in test_tag_pagination.py
    tags = {f"build-{n:03d}" for n in range(160)}
    registry.push("team/many", "build-000")
    registry.retag("team/many", "build-000", sorted(tags - {"build-000"}))
    client = ImageCheck().client(parse_image(f"{registry.host}/team/many"))
    assert set(client.tags()) == tags


def test_a_re_pushed_tag_has_a_new_digest(registry: Registry) -> None:
    first = registry.push("team/app", "v1", seed="first build")
    ref = parse_image(f"{registry.host}/team/app:v1")
    before = ImageCheck().verify(ref)
    second = registry.push("team/app", "v1", seed="second build")
    after = ImageCheck().verify(ref)
    assert before is not None and after is not None
    assert (before.digest, after.digest) == (first, second)
    assert first != second


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_a_wrong_password_is_refused_naming_the_host_and_never_printed(
    mode: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg: Registry = request.getfixturevalue(f"{mode}_registry")
    _login(monkeypatch)
    reg.push("team/app", "v1")
    _login(monkeypatch, password="wrong-password-123")
    with pytest.raises(RegistryRefused) as err:
        ImageCheck().verify(parse_image(f"{reg.host}/team/app:v1"))
    assert err.value.exit_code == ExitCode.REMOTE
    assert f"registry {reg.host} refused" in str(err.value)
    assert "wrong-password-123" not in redact(str(err.value)) and "***" not in str(err.value)


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_anonymous_is_refused_where_auth_is_on(
    mode: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg: Registry = request.getfixturevalue(f"{mode}_registry")
    _login(monkeypatch)
    reg.push("team/app", "v1")
    monkeypatch.delenv("GITOPS_RELEASE_REGISTRY_USER")
    with pytest.raises(RegistryRefused, match="no credentials"):
        ImageCheck().verify(parse_image(f"{reg.host}/team/app:v1"))


def test_the_token_request_names_service_and_scope(
    token_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _login(monkeypatch)
    token_registry.push("team/app", "v1")
    assert ImageCheck().verify(parse_image(f"{token_registry.host}/team/app:v1")) is not None
    assert token_registry.token_server is not None
    asked = token_registry.token_server.requests[-1]
    assert asked == {"user": USER, "service": "test-registry", "scope": "repository:team/app:pull"}


def test_gitlab_ci_registry_credentials_need_no_other_configuration(
    basic_registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _login(monkeypatch)
    basic_registry.push("team/app", "v1")
    monkeypatch.delenv("GITOPS_RELEASE_REGISTRY_USER")
    monkeypatch.delenv("GITOPS_RELEASE_REGISTRY_PASSWORD")
    monkeypatch.setenv("CI_REGISTRY", basic_registry.host)
    monkeypatch.setenv("CI_REGISTRY_USER", USER)
    monkeypatch.setenv("CI_REGISTRY_PASSWORD", PASSWORD)
    assert ImageCheck().verify(parse_image(f"{basic_registry.host}/team/app:v1")) is not None


@pytest.mark.parametrize(("mode", "loaded"), [("on", "True"), ("warn", "True"), ("off", "False")])
def test_the_http_stack_is_preloaded_only_when_the_check_will_run(mode: str, loaded: str) -> None:
    """``bump-image`` starts importing the registry's HTTP stack (urllib.request) on a thread
    before git's fetch, so the import overlaps the fetch; with ``--verify-image off`` it is never
    loaded at all. requests is not loaded either way: the registry does not use it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from gitops_release.registry.check import ImageCheck\n"
        f"thread = ImageCheck(mode={mode!r}).preload()\n"
        "thread and thread.join()\n"
        "print('urllib.request' in sys.modules, 'requests' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == [loaded, "False"], done.stderr
