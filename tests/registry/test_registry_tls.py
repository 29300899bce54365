"""A registry serving TLS with a certificate from a private CA (the real ``docker-registry`` with
``http.tls``): the check verifies it with ``--ca-bundle FILE`` (the same setting as Argo CD's,
added to the system's trust), refuses it without (exit 4, a TLS message that names the registry
and both ways out), and ``--insecure-registry HOST`` skips verification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gitops_release.cli import main
from tests.conftest import GitRemote, git

if TYPE_CHECKING:
    from tests.registry.conftest import Registry

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: {image}
"""


@pytest.fixture(autouse=True)
def verify_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_VERIFY_IMAGE", "on")


def add_app(remote: GitRemote, image: str) -> Path:
    app = remote.checkout / "apps/web"
    app.mkdir(parents=True)
    (app / "deployment.yaml").write_text(DEPLOYMENT.format(image=image))
    git(remote.checkout, "add", ".")
    git(remote.checkout, "commit", "-q", "-m", "add web")
    git(remote.checkout, "push", "-q", "origin", "HEAD")
    return app / "deployment.yaml"


def bump(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["bump-image", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_private_ca_is_trusted_with_ca_bundle_and_only_then(
    tls_registry: Registry, git_remote: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    host = tls_registry.host
    tls_registry.push("team/web", "v1")
    tls_registry.push("team/web", "v2")
    manifest = add_app(git_remote, f"{host}/team/web:v1")
    repo = str(git_remote.checkout)
    before = git(git_remote.bare, "rev-parse", "main")

    code, out, err = bump(capsys, "v2", "--app", "apps/web", "--repo", repo, "-o", "json")
    assert code == 4, err
    assert (
        f"TLS verification failed for registry {host} at https://{host}: certificate verify "
        "failed: unable to get local issuer certificate (for a private CA pass --ca-bundle" in err
    )
    assert "--ca-bundle FILE" in err and f"--insecure-registry {host.split(':')[0]}" in err
    assert "network" not in err  # a TLS failure is not a network problem
    assert json.loads(out)["exit_code"] == 4
    assert git(git_remote.bare, "rev-parse", "main") == before

    code, _out, err = bump(
        capsys, "v2", "--app", "apps/web", "--repo", repo, "--ca-bundle", tls_registry.ca_bundle
    )
    assert code == 0, err
    assert f"{host}/team/web:v2" in manifest.read_text()


def test_a_missing_tag_on_a_tls_registry_exits_2_with_the_nearest(
    tls_registry: Registry, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tls_registry.push("team/web", "v1.0.0")
    monkeypatch.setenv("GITOPS_RELEASE_CA_BUNDLE", tls_registry.ca_bundle)  # the setting
    code, _out, err = bump(
        capsys, f"{tls_registry.host}/team/web:v1.0.1", "--app", "apps/web",
        "--repo", "http://127.0.0.1:9/gitops.git",
    )  # fmt: skip
    assert code == 2, err
    assert "nearest existing: v1.0.0" in err


def test_insecure_registry_skips_verification(
    tls_registry: Registry, git_remote: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    host = tls_registry.host
    tls_registry.push("team/web", "v2")
    manifest = add_app(git_remote, f"{host}/team/web:v1")
    code, _out, err = bump(
        capsys, "v2", "--app", "apps/web", "--repo", str(git_remote.checkout),
        "--insecure-registry", host.split(":")[0],
    )  # fmt: skip
    assert code == 0, err
    assert f"{host}/team/web:v2" in manifest.read_text()


def test_a_loopback_registry_is_asked_over_plain_http_first(registry: Registry) -> None:
    """Loopback is where plain HTTP is expected: the probe and the check go over plain HTTP,
    with no TLS handshake tried and refused first."""
    from gitops_release.images import parse_image
    from gitops_release.registry.check import ImageCheck

    registry.push("team/web", "v1")
    check = ImageCheck()
    ref = parse_image(f"{registry.host}/team/web:v1")
    assert check.verify(ref) is not None
    http = check.client(ref)._http
    assert http is not None and http.base_url == f"http://{registry.host}"
    assert http.requests_sent == 2  # GET /v2/, HEAD the manifest: nothing before them


def test_a_loopback_registry_serving_tls_is_still_found(tls_loopback_registry: Registry) -> None:
    """Plain HTTP first on loopback, then HTTPS unverified (Docker's rule for insecure hosts)
    when the answer is not a registry's (Go's TLS server answers plain HTTP with a 400)."""
    from gitops_release.images import parse_image
    from gitops_release.registry.check import ImageCheck

    tls_loopback_registry.push("team/web", "v1")
    ref = parse_image(f"{tls_loopback_registry.addr}/team/web:v1")  # 127.0.0.1:PORT
    check = ImageCheck()
    assert check.verify(ref) is not None
    http = check.client(ref)._http
    assert http is not None and http.base_url.startswith("https://")
