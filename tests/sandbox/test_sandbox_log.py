"""The sandbox's log (``sandbox up --log-level`` / ``--quiet``): at most one line per request,
levels that keep a demo-sized run readable, and never raw bytes (a TLS handshake sent to a
plain-HTTP port logs one readable line)."""

from __future__ import annotations

import contextlib
import io
import re
import socket
import ssl
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import until

from gitops_release.sandbox.server import Sandbox, SandboxConfig
from tests.conftest import make_env

ACCESS = re.compile(r'^sandbox: 127\.0\.0\.1 "(GET|POST|PUT|DELETE|PATCH|HEAD) ')


@contextlib.contextmanager
def logging_sandbox(tmp_path: Path, level: str) -> Iterator[tuple[Sandbox, io.StringIO]]:
    log = io.StringIO()
    config = SandboxConfig(
        time_scale=0.01,
        state_dir=tmp_path / "state",
        verbose=True,
        log_level=level,
        log_stream=log,
    )
    with Sandbox(config) as sb:
        yield sb, log


def test_a_demo_sized_run_logs_at_most_one_line_per_request_and_less_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with logging_sandbox(tmp_path, "debug") as (sb, log):
        e = make_env(tmp_path, monkeypatch, capsys, sb)
        monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sb.git_token)
        e.create_app()
        e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
        served = len(sb.requests) + 2  # the API's, and two on the ingress
        assert "Version: v1" in str(e.host("prod.myapp.com"))
        assert e.host("nothing.example.com") == 404
        debug = log.getvalue().splitlines()
        access = [line for line in debug if ACCESS.match(line)]
        assert 0 < len(access) <= served, "\n".join(debug[:50])
        assert any(line.endswith(" 404") for line in access)  # the ingress miss, with its status

        sb.config.log_level = "info"  # the default: what happened, not every request
        log.seek(0), log.truncate()
        e.ok("deploy", "v2", "--app", "myapp", "--timeout", "60s")
        info = log.getvalue().splitlines()
        synced = [line for line in info if "myapp: sync to" in line]
        assert synced, info
        # the commit in the one short length the client shows too (12)
        assert all(re.search(r"sync to [0-9a-f]{12} ", line) for line in synced), synced
        assert not [line for line in info if ACCESS.match(line) and line.endswith(" 200")], info

        sb.config.log_level = "warning"  # --quiet
        log.seek(0), log.truncate()
        e.ok("promote", "myapp", "--wait", "--timeout", "60s")
        assert log.getvalue() == ""


def _client_hello() -> bytes:
    """The first flight of a real TLS handshake, as ``curl https://`` or requests would send."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize("port", ["argocd_url", "ingress_url"])
def test_a_tls_handshake_on_a_plain_port_logs_one_readable_line(tmp_path: Path, port: str) -> None:
    with logging_sandbox(tmp_path, "info") as (sb, log):
        url = urllib.parse.urlsplit(getattr(sb, port))
        with socket.create_connection((url.hostname, url.port), timeout=10) as conn:
            conn.sendall(_client_hello())
            conn.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                conn.recv(4096)
        until(lambda: "TLS" in log.getvalue(), what="the log line")
        text = log.getvalue()
    lines = text.splitlines()
    assert len(lines) == 1, lines
    assert "plain-HTTP" in lines[0] and "http://" in lines[0]
    assert all(c.isascii() and (c.isprintable() or c == "\n") for c in text), repr(text)
