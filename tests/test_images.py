"""images: parse and format ``[registry[:port]/]repository[:tag][@digest]``, the digest policy."""

from __future__ import annotations

import pytest

from gitops_release.errors import ExitCode, UsageError
from gitops_release.images import (
    ImageRef,
    is_placeholder,
    is_reference,
    parse_image,
    resolve_target,
    validate_tag,
)

DIGEST = "sha256:" + "0123456789abcdef" * 4
OTHER = "sha256:" + "f" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", None, "nginx", None, None),
        ("nginx:1.25", None, "nginx", "1.25", None),
        ("library/nginx:latest", None, "library/nginx", "latest", None),
        ("docker.io/library/nginx:1", "docker.io", "library/nginx", "1", None),
        ("localhost/app", "localhost", "app", None, None),
        ("localhost:5000/app", "localhost:5000", "app", None, None),
        ("reg.example.com:5000/team/app:v2", "reg.example.com:5000", "team/app", "v2", None),
        ("127.0.0.1:30000/session:1.0.0", "127.0.0.1:30000", "session", "1.0.0", None),
        ("[::1]:5000/app:v1", "[::1]:5000", "app", "v1", None),
        (f"busybox:1.36@{DIGEST}", None, "busybox", "1.36", DIGEST),
        (f"ghcr.io/a/b@{DIGEST}", "ghcr.io", "a/b", None, DIGEST),
        ("a/b.c/d_e/f__g/h-i--j:V_1.0-rc.1", None, "a/b.c/d_e/f__g/h-i--j", "V_1.0-rc.1", None),
    ],
)
def test_parse_and_format_round_trip(
    text: str, registry: str | None, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_image(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert str(ref) == text
    assert parse_image(str(ref)) == ref


@pytest.mark.parametrize(
    "text",
    [
        "",
        " nginx",
        "nginx ",
        "ngi nx:1",
        "nginx:1\n",
        "Nginx:1",  # upper-case repository
        "team/App",
        "nginx:",  # empty tag
        "nginx:-1",  # tag starting with '-'
        "nginx:.1",
        "nginx:" + "a" * 129,
        "nginx:1;rm -rf /",
        "nginx:$(id)",
        "nginx@sha256:abc",  # short digest
        "nginx@md5:" + "a" * 32,
        "/nginx",
        "a//b",
        "a/../b",
        "a___b",
        "-a",
        "app:v1:v2",
        "my_registry.com/app",  # '_' is not allowed in a host name
        "${REGISTRY}/app:v1",
        "{{ .Values.image }}",
        "<image>",
        "x" * 600,
    ],
)
def test_invalid_references_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_image(text, what="--image")
    assert err.value.exit_code == ExitCode.USAGE
    assert "\n" not in str(err.value)


def test_longest_tag_is_accepted() -> None:
    assert validate_tag("a" * 128) == "a" * 128
    with pytest.raises(UsageError, match="invalid image tag"):
        validate_tag("a" * 129)


def test_name_and_with_tag() -> None:
    ref = parse_image(f"reg.io:5000/team/app:v1@{DIGEST}")
    assert ref.name == "reg.io:5000/team/app"
    assert str(ref.with_tag("v2")) == "reg.io:5000/team/app:v2"
    assert str(ref.with_tag("v2", OTHER)) == f"reg.io:5000/team/app:v2@{OTHER}"
    assert ImageRef("app").name == "app"


def test_placeholders_and_references() -> None:
    for text in ("${IMAGE}", "$REGISTRY/app", "$(cat tag)", "{{ .Values.tag }}", "<image_url>"):
        assert is_placeholder(text)
    for text in ("nginx:1.25", "ghcr.io/a/b:v1", "v2"):
        assert not is_placeholder(text)
    assert not is_reference("v2") and not is_reference("1.2.3")
    assert is_reference("app:v2") and is_reference("team/app") and is_reference(f"app@{DIGEST}")


def test_resolve_target_digest_policy() -> None:
    current = parse_image(f"ghcr.io/team/app:v1@{DIGEST}")
    # a bare tag keeps the repository and drops the stale digest
    assert str(resolve_target(current, "v2")) == "ghcr.io/team/app:v2"
    # unless a new digest is given
    assert str(resolve_target(current, "v2", OTHER)) == f"ghcr.io/team/app:v2@{OTHER}"
    # a full reference replaces everything
    assert str(resolve_target(current, "quay.io/x/y:3")) == "quay.io/x/y:3"
    assert str(resolve_target(current, "quay.io/x/y:3", OTHER)) == f"quay.io/x/y:3@{OTHER}"
    assert str(resolve_target(current, f"quay.io/x/y@{OTHER}")) == f"quay.io/x/y@{OTHER}"
    with pytest.raises(UsageError, match="disagrees"):
        resolve_target(current, f"quay.io/x/y@{OTHER}", DIGEST)
    with pytest.raises(UsageError, match="--digest"):
        resolve_target(current, "v2", "sha256:nothex")
    with pytest.raises(UsageError, match="new tag"):
        resolve_target(current, "v 2")


@pytest.mark.parametrize(
    ("a", "b", "order"),
    [
        ("ikubernetes/myapp:v1", "ikubernetes/myapp:v2", -1),
        ("ikubernetes/myapp:v2", "ikubernetes/myapp:v2.0.0", 0),
        ("ikubernetes/myapp:v10", "ikubernetes/myapp:v9", 1),
        ("app:1.2.0-rc.1", "app:1.2.0", -1),
        ("app:latest", "app:v1", None),
        ("other/app:v3", "ikubernetes/myapp:v1", None),
    ],
)
def test_versions_compare_by_semver(a: str, b: str, order: int | None) -> None:
    from gitops_release.images import compare_versions

    assert compare_versions(a, b) == order
