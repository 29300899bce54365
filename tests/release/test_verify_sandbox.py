"""``verify APP --preview|--prod`` on the sandbox, plus the smoke check rules on a small server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from gitops_release.errors import Failed, RemoteError, UsageError
from gitops_release.output import Output
from gitops_release.release import smoke
from tests.conftest import Env


@pytest.fixture
def env(env: Env) -> Env:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    return env


def test_verify_preview_and_prod(env: Env) -> None:
    env.bump("v2")
    env.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    ingress = ("--ingress-url", env.sb.ingress_url, "--check-timeout", "2s")
    code, out, err = env.cli("verify", "myapp", "--preview", "--expect", "Version: v2", *ingress)
    assert code == 0, err
    # the result once, on stdout, in the word deploy's progress uses too
    assert out == "preview: http://test.myapp.com: passed (HTTP 200)\n"
    assert "passed" not in err and " ok " not in err
    data = json.loads(
        env.ok("verify", "myapp", "--prod", "--status", "200", *ingress, "-o", "json")
    )
    assert data["checks"][0]["check"] == "prod" and data["checks"][0]["ok"] is True
    code, _, err = env.cli("verify", "myapp", "--prod", "--expect", "Version: v2", *ingress)
    assert code == 1
    assert "smoke check prod failed" in err and "does not match 'Version: v2'" in err
    code, _, err = env.cli("verify", "myapp", *ingress)
    assert code == 2 and "--preview, --prod" in err
    code, _, err = env.cli("verify", "myapp", "--preview", "--expect", "(", *ingress)
    assert code == 2 and "not a regular expression" in err


class _Handler(BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, str]]] = []
    hosts: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hosts.append(self.headers.get("Host", ""))
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def test_check_retries_until_it_passes_and_sends_the_host(server: str) -> None:
    _Handler.answers = [
        (503, "starting"),
        (200, "Hello | Version: v1"),
        (200, "Hello | Version: v2"),
    ]
    _Handler.hosts = []
    checks = smoke.plan(
        ["preview"], prod_url="", preview_url="http://test.example.com/health",
        expect="Version: v2", ingress_url=server,
    )  # fmt: skip
    results = smoke.run_all(checks, timeout=10, out=Output(quiet=True))
    assert results[0].ok and results[0].attempts == 3
    assert _Handler.hosts == ["test.example.com"] * 3


def test_check_gives_up_at_its_deadline_saying_what_it_got(server: str) -> None:
    _Handler.answers = [(500, "boom")]
    checks = smoke.plan([server + "/"], prod_url="", preview_url="", status=200)
    with pytest.raises(Failed, match=r"HTTP 500, expected 200"):
        smoke.run_all(checks, timeout=0.5, out=Output(quiet=True))


def test_bad_check_specs_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="no IngressRoute"):
        smoke.plan(["prod"], prod_url="", preview_url="")
    with pytest.raises(UsageError, match="expected a URL"):
        smoke.plan(["staging"], prod_url="", preview_url="")


def test_a_host_that_does_not_resolve_is_reported_at_once() -> None:
    """Issue 14, item 7: a DNS failure was retried for the whole --check-timeout (59 s) and its
    message cut (``...Name or service not know``). No retry can make a name resolve: one
    attempt, the whole reason, and the way round it (the ingress address)."""
    check = smoke.plan(["preview"], prod_url="", preview_url="http://test.myapp.invalid/")[0]

    def no_retry(seconds: float) -> None:
        raise AssertionError(f"a DNS failure was retried (slept {seconds}s)")

    with pytest.raises(RemoteError) as caught:
        smoke.run_check(check, timeout=60, out=Output(quiet=True), sleep=no_retry)
    err = caught.value
    assert err.exit_code == 4
    assert "test.myapp.invalid" in err.message
    assert err.message.rstrip(")").endswith(("not known", "failure", "found", "resolution"))
    assert err.hint and "--ingress-url" in err.hint and "GITOPS_RELEASE_INGRESS_URL" in err.hint


def test_verify_without_ingress_url_names_the_setting(env: Env) -> None:
    """The CLI end: the app's preview host does not resolve (``.invalid`` never does); verify
    says so at once, exit 4, and the same check passes once ``GITOPS_RELEASE_INGRESS_URL``
    holds the ingress address (a setting like any other, not only a flag)."""
    path = env.repo / "myapp" / "ingress.yaml"
    path.write_text(path.read_text().replace("test.myapp.com", "test.myapp.invalid"))
    env.git("commit", "-qam", "preview host under .invalid")
    env.git("push", "-q", "origin", "main")
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    code, out, err = env.cli("verify", "myapp", "--preview", "--check-timeout", "60s")
    assert code == 4, err
    assert "test.myapp.invalid" in err and "GITOPS_RELEASE_INGRESS_URL" in err, err
    assert "retrying" not in err
    env.monkeypatch.setenv("GITOPS_RELEASE_INGRESS_URL", env.sb.ingress_url)
    out = env.ok("verify", "myapp", "--preview", "--check-timeout", "5s")
    assert out.startswith("preview: http://test.myapp.invalid: passed (HTTP 200)")


def test_verify_honours_the_command_timeout_over_check_timeout(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--timeout 2s`` bounds the smoke checks' retries as well: no request of a failing check
    is allowed to run past it (recorded per request, no wall-clock assertion)."""
    import time

    import requests

    env.sb.fail_image("ikubernetes/myapp:v2", "http-500")
    env.bump("v2")
    env.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    sent: list[tuple[float, float]] = []
    original = requests.Session.request

    def spy(self: requests.Session, method: str, url: str, **kwargs: object) -> object:
        timeout = kwargs.get("timeout")
        longest = max(timeout) if isinstance(timeout, tuple) else float(timeout or 0)  # type: ignore[arg-type]
        sent.append((time.monotonic(), longest))
        return original(self, method, url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(requests.Session, "request", spy)
    start = time.monotonic()
    code, _, err = env.cli(
        "verify", "myapp", "--preview", "--ingress-url", env.sb.ingress_url,
        "--check-timeout", "60s", "--timeout", "2s",
    )  # fmt: skip
    assert code == 6, err  # stopped by --timeout: a time-out, not a failed check
    assert len(sent) > 1  # it retried
    late = [at - start + budget for at, budget in sent if at + budget > start + 2.0 + 1.1]
    assert not late, late
