"""``bump-image`` asks the real registry before it clones or writes: a missing tag exits 2 with
the nearest tags and nothing cloned or written; a refused or unreachable registry exits 4 naming
its host, or with ``--verify-image warn`` says so and goes on."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gitops_release.cli import main
from tests.conftest import GitRemote, git

if TYPE_CHECKING:
    from tests.registry.conftest import Registry

USER, PASSWORD = "ci-bot", "s3cret-registry-pass"  # what the registry fixture's auth accepts
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


@pytest.fixture(autouse=True)
def verify_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_VERIFY_IMAGE", "on")  # the users' default


def _state(remote: GitRemote) -> tuple[str, str, str]:
    return (
        git(remote.checkout, "rev-parse", "HEAD"),
        git(remote.bare, "rev-parse", "main"),
        git(remote.checkout, "status", "--porcelain"),
    )


def test_an_existing_tag_is_released(
    registry: Registry, git_remote: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.push("team/web", "v1")
    registry.push("team/web", "v2")
    manifest = add_app(git_remote, f"{registry.host}/team/web:v1")
    code, _out, err = run(capsys, "v2", "--app", "apps/web", "--repo", str(git_remote.checkout))
    assert code == 0, err
    assert f"{registry.host}/team/web:v2" in manifest.read_text()
    assert git(git_remote.bare, "rev-parse", "main") == git(
        git_remote.checkout, "rev-parse", "HEAD"
    )


def test_a_missing_tag_exits_2_before_cloning_naming_the_nearest_tags(
    registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    for tag in ("v1.0.0", "v1.1.0", "v2.0.0"):
        registry.push("team/web", tag)
    # a Git URL nothing answers: had the tool cloned first, it would exit 4 for the clone
    nowhere = "http://127.0.0.1:9/gitops.git"
    code, _out, err = run(
        capsys, f"{registry.host}/team/web:v1.1.1", "--app", "apps/web", "--repo", nowhere,
        "-o", "json",
    )  # fmt: skip
    assert code == 2, err
    assert f"registry {registry.host} has no tag v1.1.1 in team/web" in err
    assert "nearest existing: v1.1.0, v1.0.0, v2.0.0" in err
    assert "cloning" not in err


def test_a_missing_bare_tag_changes_nothing_in_the_checkout(
    registry: Registry, git_remote: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.push("team/web", "v1")
    manifest = add_app(git_remote, f"{registry.host}/team/web:v1")
    before, text = _state(git_remote), manifest.read_bytes()
    code, _out, err = run(capsys, "v2", "--app", "apps/web", "--repo", str(git_remote.checkout))
    assert code == 2, err
    assert "has no tag v2 in team/web" in err and "nearest existing: v1" in err
    assert (_state(git_remote), manifest.read_bytes()) == (before, text)


def test_a_wrong_password_exits_4_naming_the_host_and_never_prints_it(
    basic_registry: Registry,
    git_remote: GitRemote,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_REGISTRY_USER", USER)
    monkeypatch.setenv("GITOPS_RELEASE_REGISTRY_PASSWORD", "wrong-Pa55word")
    basic_registry.push("team/web", "v2")
    add_app(git_remote, f"{basic_registry.host}/team/web:v1")
    before = _state(git_remote)
    code, out, err = run(
        capsys, "v2", "--app", "apps/web", "--repo", str(git_remote.checkout), "--debug"
    )
    assert code == 4, err
    assert f"registry {basic_registry.host} refused" in err
    assert "GITOPS_RELEASE_REGISTRY_USER" in err
    assert "wrong-Pa55word" not in out + err
    assert _state(git_remote) == before


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_registry_exits_4_or_goes_on_with_warn(
    git_remote: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"127.0.0.1:{_dead_port()}"
    manifest = add_app(git_remote, f"{host}/team/web:v1")
    before = _state(git_remote)
    code, out, err = run(capsys, "v2", "--app", "apps/web", "--repo", str(git_remote.checkout))
    assert code == 4, err
    assert f"cannot reach registry {host}" in err
    assert _state(git_remote) == before

    code, out, err = run(
        capsys, "v2", "--app", "apps/web", "--repo", str(git_remote.checkout),
        "--verify-image", "warn", "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    assert f"cannot reach registry {host}" in err and "going on" in err
    assert json.loads(out)["pushed"] is True
    assert f"{host}/team/web:v2" in manifest.read_text()


def test_verify_image_is_a_setting_like_any_other(
    git_remote: GitRemote, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    host = f"127.0.0.1:{_dead_port()}"
    add_app(git_remote, f"{host}/team/web:v1")
    (git_remote.checkout / "gitops-release.toml").write_text('verify_image = "off"\n')
    monkeypatch.delenv("GITOPS_RELEASE_VERIFY_IMAGE")
    monkeypatch.chdir(git_remote.checkout)
    code, _out, err = run(capsys, "v2", "--app", "apps/web", "--dry-run")
    assert code == 0 and "registry" not in err, err
    code, _out, err = run(capsys, "v2", "--app", "apps/web", "--dry-run", "--verify-image", "on")
    assert code == 4, err
    code, _out, err = run(capsys, "v2", "--app", "apps/web", "--verify-image", "maybe")
    assert code == 2 and "expected on, warn or off" in err


def test_an_unreachable_docker_hub_suggests_the_network_not_insecure_registry(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Docker Hub behind a proxy that is down (deterministic with or without a network): the
    hint names the network and the proxy, and ``--verify-image warn|off`` for air-gapped
    runners; ``--insecure-registry`` only answers a TLS failure."""
    proxy = f"http://127.0.0.1:{_dead_port()}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    code, _out, err = run(
        capsys, "nginx:1.27.0", "--app", "apps/web", "--repo", "http://127.0.0.1:9/gitops.git"
    )
    assert code == 4, err
    assert (
        "cannot reach registry docker.io at https://registry-1.docker.io: [Errno 111] "
        "Connection refused (check" in err
    )
    assert "proxy" in err and "--verify-image warn|off" in err
    assert "--insecure-registry" not in err and "--ca-bundle" not in err


@pytest.mark.parametrize("mode", ["none", "token"])
def test_the_check_does_not_import_requests(
    mode: str,
    request: pytest.FixtureRequest,
    git_remote: GitRemote,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The registry's calls go through the standard library: importing requests would add
    ~47 ms to a ~250 ms local bump (issue 16's goal, on/off <= 1.15x). A run of the command in
    a fresh process, its check answered by the registry (and its token service), loads no
    requests."""
    import subprocess
    import sys

    reg: Registry = request.getfixturevalue("registry" if mode == "none" else "token_registry")
    if mode == "token":
        monkeypatch.setenv("GITOPS_RELEASE_REGISTRY_USER", USER)
        monkeypatch.setenv("GITOPS_RELEASE_REGISTRY_PASSWORD", PASSWORD)
    reg.push("team/web", "v1")
    reg.push("team/web", "v2")
    manifest = add_app(git_remote, f"{reg.host}/team/web:v1")
    code = (
        "import sys\n"
        "from gitops_release.cli import main\n"
        "code = main(['bump-image', 'v2', '--app', 'apps/web', '--repo', sys.argv[1]])\n"
        "print('requests' in sys.modules, 'urllib3' in sys.modules, code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(git_remote.checkout)], capture_output=True, text=True
    )
    assert done.stdout.split()[-3:] == ["False", "False", "0"], done.stderr
    assert f"{reg.host}/team/web:v2" in manifest.read_text()
    if reg.token_server is not None:
        assert reg.token_server.requests[-1]["user"] == USER
