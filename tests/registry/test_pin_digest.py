"""``--pin-digest``: the tag resolved to its digest by the real registry, written as
``repo:tag@sha256:...`` and recorded in a ``Release-Digest`` trailer (which the registry check
records too, pinned or not); a registry that sends no ``Docker-Content-Digest`` is answered with
the sha256 of the manifest bytes as received."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gitops_release.cli import main
from gitops_release.images import parse_image
from gitops_release.registry.check import ImageCheck
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
          image: {image}  # the web image
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["bump-image", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def add_app(remote: GitRemote, image: str) -> Path:
    app = remote.checkout / "apps/web"
    app.mkdir(parents=True)
    (app / "deployment.yaml").write_text(DEPLOYMENT.format(image=image))
    git(remote.checkout, "add", ".")
    git(remote.checkout, "commit", "-q", "-m", "add web")
    git(remote.checkout, "push", "-q", "origin", "HEAD")
    return app / "deployment.yaml"


def test_pin_digest_writes_tag_at_digest_and_a_release_digest_trailer(
    registry: Registry,
    git_remote: GitRemote,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # --pin-digest asks the registry even where the existence check is set off
    monkeypatch.setenv("GITOPS_RELEASE_VERIFY_IMAGE", "off")
    registry.push("team/web", "v1")
    digest = registry.push("team/web", "v2")
    manifest = add_app(git_remote, f"{registry.host}/team/web:v1")
    code, out, err = run(
        capsys, "v2", "--app", "apps/web", "--repo", str(git_remote.checkout), "--pin-digest",
        "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["digest"] == digest
    assert manifest.read_text() == DEPLOYMENT.format(image=f"{registry.host}/team/web:v2@{digest}")
    body = git(git_remote.bare, "log", "-1", "--format=%B", "main")
    assert f"Release-Image: {registry.host}/team/web:v2@{digest}" in body
    assert body.rstrip().endswith(f"Release-Digest: {digest}")

    # a second run finds it already there: nothing to change
    code, out, err = run(
        capsys, "v2", "--app", "apps/web", "--repo", str(git_remote.checkout), "--pin-digest",
        "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["changed"] is False


def test_the_registry_check_records_the_digest_without_pinning(
    registry: Registry,
    git_remote: GitRemote,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_VERIFY_IMAGE", "on")
    digest = registry.push("team/web", "v2")
    manifest = add_app(git_remote, f"{registry.host}/team/web:v1")
    code, _out, err = run(capsys, "v2", "--app", "apps/web", "--repo", str(git_remote.checkout))
    assert code == 0, err
    assert manifest.read_text() == DEPLOYMENT.format(image=f"{registry.host}/team/web:v2")
    body = git(git_remote.bare, "log", "-1", "--format=%B", "main")
    assert f"Release-Digest: {digest}" in body


def test_pin_digest_of_a_missing_tag_exits_2_and_writes_nothing(
    registry: Registry,
    git_remote: GitRemote,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_VERIFY_IMAGE", "off")
    registry.push("team/web", "v1")
    manifest = add_app(git_remote, f"{registry.host}/team/web:v1")
    before = (git(git_remote.bare, "rev-parse", "main"), manifest.read_bytes())
    code, _out, err = run(
        capsys, "v3", "--app", "apps/web", "--repo", str(git_remote.checkout), "--pin-digest"
    )
    assert code == 2, err
    assert "has no tag v3 in team/web" in err
    assert (git(git_remote.bare, "rev-parse", "main"), manifest.read_bytes()) == before


class _NoDigestRegistry(BaseHTTPRequestHandler):
    """A registry that sends manifests without ``Docker-Content-Digest`` (some proxies do)."""

    body = json.dumps({"schemaVersion": 2, "mediaType": "x", "layers": []}, indent=3).encode()

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, send_body: bool) -> None:
        if self.path == "/v2/":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if send_body:
            self.wfile.write(self.body)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)


@pytest.fixture
def no_digest_host() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoDigestRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_without_docker_content_digest_the_digest_is_the_sha256_of_the_bytes(
    no_digest_host: str,
) -> None:
    check = ImageCheck(mode="off")
    expected = "sha256:" + hashlib.sha256(_NoDigestRegistry.body).hexdigest()
    assert check.digest(parse_image(f"{no_digest_host}/team/web:v2")) == expected
