"""The smart-HTTP git server: real git clients against git http-backend on 127.0.0.1."""

from __future__ import annotations

import base64
import gzip
import http.client
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_release.sandbox.gitserver import GitServer, init_bare
from tests.conftest import git

TOKEN = "srv-t0ken-123"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    srv = GitServer(tmp_path / "srv", TOKEN, lifetime=60)
    srv.start()
    yield srv
    srv.stop()


def _auth_env(token: str = TOKEN) -> dict[str, str]:
    header = base64.b64encode(f"oauth2:{token}".encode()).decode()
    return {
        **os.environ,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {header}",
    }


def _run(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)


def _seed(server: GitServer, tmp_path: Path, name: str = "team/gitops.git") -> Path:
    work = tmp_path / "seed"
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    (work / "apps" / "a").mkdir(parents=True)
    (work / "apps" / "a" / "rollout.yaml").write_text("image: x:v1\n")
    (work / "apps" / "b").mkdir(parents=True)
    (work / "apps" / "b" / "rollout.yaml").write_text("image: y:v1\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "seed")
    done = _run(work, "push", "-q", server.url(name), "main", env=_auth_env())
    assert done.returncode == 0, done.stderr
    return work


def test_push_to_create_then_clone(server: GitServer, tmp_path: Path) -> None:
    _seed(server, tmp_path)
    assert (server.root / "team/gitops.git" / "HEAD").is_file()
    clone = _run(tmp_path, "clone", "-q", server.url("team/gitops.git"), "c")
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "c" / "apps" / "a" / "rollout.yaml").read_text() == "image: x:v1\n"


def test_push_without_token_is_refused_with_401(server: GitServer, tmp_path: Path) -> None:
    work = _seed(server, tmp_path)
    (work / "f").write_text("f\n")
    git(work, "add", "f")
    git(work, "commit", "-q", "-m", "f")
    bad = _run(work, "push", server.url("team/gitops.git"), "main")
    assert bad.returncode != 0
    wrong = _run(work, "push", server.url("team/gitops.git"), "main", env=_auth_env("nope"))
    assert wrong.returncode != 0
    assert any(r.status == 401 for r in server.log)
    assert TOKEN not in bad.stderr + wrong.stderr


def test_auth_fetch_requires_token_for_clone(tmp_path: Path) -> None:
    with GitServer(tmp_path / "srv", TOKEN, auth_fetch=True) as srv:
        init_bare(srv.root / "r.git")
        assert _run(tmp_path, "clone", "-q", srv.url("r.git"), "a").returncode != 0
        ok = _run(tmp_path, "clone", "-q", srv.url("r.git"), "b", env=_auth_env())
        assert ok.returncode == 0, ok.stderr


def test_partial_sparse_shallow_clone(server: GitServer, tmp_path: Path) -> None:
    _seed(server, tmp_path)
    args = ["clone", "-q", "--filter=blob:none", "--depth=1", "--sparse", "--no-tags"]
    done = _run(tmp_path, *args, server.url("team/gitops.git"), "p")
    assert done.returncode == 0, done.stderr
    assert git(tmp_path / "p", "config", "remote.origin.partialclonefilter") == "blob:none"
    git(tmp_path / "p", "sparse-checkout", "set", "apps/a")
    assert (tmp_path / "p" / "apps" / "a" / "rollout.yaml").exists()
    assert not (tmp_path / "p" / "apps" / "b").exists()


def test_large_push_goes_chunked(server: GitServer, tmp_path: Path) -> None:
    work = _seed(server, tmp_path)
    (work / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    git(work, "add", "big.bin")
    git(work, "commit", "-q", "-m", "big")
    env = {**_auth_env(), "GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"}
    done = _run(work, "push", server.url("team/gitops.git"), "main", env=env)
    assert done.returncode == 0, done.stderr
    assert "Transfer-Encoding: chunked" in done.stderr
    assert git(server.root / "team/gitops.git", "rev-parse", "main") == git(
        work, "rev-parse", "HEAD"
    )


def _ls_refs(server: GitServer, body: bytes, headers: dict[str, str]) -> bytes:
    host, port = server.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/team/gitops.git/git-upload-pack")
    for key, value in {
        "Content-Type": "application/x-git-upload-pack-request",
        "Git-Protocol": "version=2",
        **headers,
    }.items():
        conn.putheader(key, value)
    conn.endheaders()
    if headers.get("Transfer-Encoding") == "chunked":
        half = len(body) // 2
        for part in (body[:half], body[half:]):
            conn.send(b"%x\r\n%s\r\n" % (len(part), part))
        conn.send(b"0\r\n\r\n")
    else:
        conn.send(body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    assert response.status == 200, data
    return data


def test_gzip_and_chunked_request_bodies(server: GitServer, tmp_path: Path) -> None:
    _seed(server, tmp_path)
    request = b"0014command=ls-refs\n0001000bsymrefs0000"
    plain = _ls_refs(server, request, {"Content-Length": str(len(request))})
    assert b"refs/heads/main" in plain
    packed = gzip.compress(request)
    zipped = _ls_refs(
        server, packed, {"Content-Encoding": "gzip", "Content-Length": str(len(packed))}
    )
    chunked = _ls_refs(server, request, {"Transfer-Encoding": "chunked"})
    assert plain == zipped == chunked


def test_race_fault_rejects_push_as_stale(server: GitServer, tmp_path: Path) -> None:
    work = _seed(server, tmp_path)
    server.race_next_pushes(1)
    (work / "f").write_text("f\n")
    git(work, "add", "f")
    git(work, "commit", "-q", "-m", "f")
    first = _run(
        work, "push", "--porcelain", server.url("team/gitops.git"), "main", env=_auth_env()
    )
    assert first.returncode != 0
    assert "!" in first.stdout
    assert server.races == 1
    bare = server.root / "team/gitops.git"
    assert git(bare, "log", "-1", "--format=%s", "main").startswith("another writer")


def test_fail_and_drop_faults(server: GitServer, tmp_path: Path) -> None:
    work = _seed(server, tmp_path)
    server.fail_next(1, 503)
    assert _run(tmp_path, "ls-remote", server.url("team/gitops.git")).returncode != 0
    assert _run(tmp_path, "ls-remote", server.url("team/gitops.git")).returncode == 0
    server.drop_next_pushes(1)
    (work / "g").write_text("g\n")
    git(work, "add", "g")
    git(work, "commit", "-q", "-m", "g")
    dropped = _run(work, "push", server.url("team/gitops.git"), "main", env=_auth_env())
    assert dropped.returncode != 0
    assert git(server.root / "team/gitops.git", "rev-parse", "main") != git(
        work, "rev-parse", "HEAD"
    )


def test_stop_and_lifetime(tmp_path: Path) -> None:
    srv = GitServer(tmp_path / "srv", lifetime=0.2)
    url = srv.start()
    srv._thread.join(timeout=5)  # type: ignore[union-attr]
    assert not srv.running
    assert _run(tmp_path, "ls-remote", url + "/x.git").returncode != 0
    srv.stop()  # idempotent
