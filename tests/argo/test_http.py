"""The HTTP adapter against a real server on 127.0.0.1: retries, error mapping, streams, secrets."""

from __future__ import annotations

import base64
import re
import socket
import threading
from collections.abc import Iterator

import pytest

from gitops_release.argo import http, stdhttp
from gitops_release.errors import ExitCode
from gitops_release.output import register_secret
from tests.fake_http import FakeServer, Request


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer().start()
    yield fake
    fake.stop()


def client(server: FakeServer, **kwargs: object) -> http.Client:
    sleeps: list[float] = []
    c = http.Client(server.url, name="Argo CD", sleep=sleeps.append, **kwargs)  # type: ignore[arg-type]
    c.sleeps = sleeps  # type: ignore[attr-defined]
    return c


def test_get_decodes_json_and_sends_bearer_token_in_header_only(server: FakeServer) -> None:
    server.routes[("GET", "/api/v1/applications/web")] = lambda r: (
        200,
        {"metadata": {"name": "web"}},
    )
    c = client(server, token="tok-123456")
    assert c.get("/api/v1/applications/web", params={"project": "default"}) == {
        "metadata": {"name": "web"}
    }
    req = server.requests[0]
    assert req.headers["authorization"] == "Bearer tok-123456"
    assert "tok-123456" not in req.path + str(req.query)
    assert req.query == {"project": ["default"]}


def test_5xx_burst_is_retried_with_backoff_then_succeeds(server: FakeServer) -> None:
    answers = iter([(503, {"message": "busy"}), (502, b"bad gateway"), (200, {"ok": True})])
    server.routes[("GET", "/x")] = lambda r: next(answers)
    c = client(server)
    assert c.get("/x") == {"ok": True}
    assert server.count("GET", "/x") == 3
    assert len(c.sleeps) == 2 and all(s > 0 for s in c.sleeps)  # type: ignore[attr-defined]


def test_5xx_forever_gives_up_after_bounded_retries_with_exit_4(server: FakeServer) -> None:
    server.routes[("GET", "/x")] = lambda r: (
        503,
        {"error": "unavailable", "code": 14, "message": "unavailable"},
    )
    c = client(server, retries=3)
    with pytest.raises(http.ServerError) as info:
        c.get("/x")
    assert server.count("GET", "/x") == 4
    err = info.value
    assert err.exit_code == ExitCode.REMOTE and err.status == 503
    assert "GET " in str(err) and "/x: HTTP 503: unavailable" in str(err)


def test_retry_after_is_honoured(server: FakeServer) -> None:
    answers = iter([(429, {"message": "slow down"}, {"Retry-After": "3"}), (200, {})])
    server.routes[("GET", "/x")] = lambda r: next(answers)
    c = client(server)
    c.get("/x")
    assert c.sleeps == [3.0]  # type: ignore[attr-defined]


def test_post_is_not_retried_on_503(server: FakeServer) -> None:
    server.routes[("POST", "/sync")] = lambda r: (503, {"message": "busy"})
    c = client(server)
    with pytest.raises(http.ServerError):
        c.request("POST", "/sync", body={})
    assert server.count("POST") == 1


def test_post_marked_idempotent_is_retried(server: FakeServer) -> None:
    answers = iter([(503, {"message": "busy"}), (200, {})])
    server.routes[("POST", "/act")] = lambda r: next(answers)
    client(server).request("POST", "/act", body="resume", idempotent=True)
    assert server.count("POST") == 2
    assert server.requests[-1].body == b'"resume"'


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, http.BadRequest),
        (401, http.Unauthorized),
        (403, http.Forbidden),
        (404, http.NotFound),
        (409, http.Conflict),
        (500, http.ServerError),
    ],
)
def test_status_mapping(server: FakeServer, status: int, cls: type[http.ApiError]) -> None:
    server.routes[("GET", "/x")] = lambda r: (
        status,
        {"error": "boom", "code": 2, "message": "boom"},
    )
    with pytest.raises(cls) as info:
        client(server, retries=0).get("/x")
    assert info.value.status == status and info.value.server_message == "boom"
    assert isinstance(info.value, http.RemoteError)


def test_html_answer_is_a_clear_error(server: FakeServer) -> None:
    server.routes[("GET", "/api/v1/version")] = lambda r: (
        200,
        b"<!doctype html><html>login</html>",
        {"Content-Type": "text/html"},
    )
    with pytest.raises(http.BadResponse) as info:
        client(server).get("/api/v1/version")
    assert "text/html, not JSON" in str(info.value)
    assert info.value.exit_code == ExitCode.REMOTE


def test_plain_text_404_message(server: FakeServer) -> None:
    with pytest.raises(http.NotFound) as info:
        client(server).get("/nope")
    assert info.value.server_message == "Not Found"


def test_connection_refused_is_retried_then_exit_4() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    sleeps: list[float] = []
    c = http.Client(f"http://127.0.0.1:{port}", name="Argo CD", retries=2, sleep=sleeps.append)
    with pytest.raises(http.Unreachable) as info:
        c.request("POST", "/x", body={})
    assert c.requests_sent == 3 and len(sleeps) == 2
    assert f"cannot reach Argo CD at http://127.0.0.1:{port}" in str(info.value)
    # the reason as the OS says it, without the quote and brackets requests wraps it in
    assert re.search(r": \[Errno \d+\] Connection refused$", info.value.message), info.value
    with pytest.raises(http.Unreachable) as info:
        http.probe(f"http://127.0.0.1:{port}/")
    assert re.search(r": \[Errno \d+\] Connection refused$", info.value.message), info.value


def test_error_messages_never_carry_the_token(server: FakeServer) -> None:
    register_secret("tok-abcdef")
    server.routes[("GET", "/x")] = lambda r: (401, {"message": "invalid session: tok-abcdef"})
    with pytest.raises(http.Unauthorized) as info:
        client(server, token="tok-abcdef").get("/x")
    from gitops_release.output import redact

    assert "tok-abcdef" not in redact(str(info.value))
    assert "ARGOCD_AUTH_TOKEN" in str(info.value)


def test_stream_yields_results_and_ends_on_close(server: FakeServer) -> None:
    def stream(r: Request) -> tuple[object, ...]:
        return (200, iter(['{"result":{"n":1}}', "", '{"result":{"n":2}}']))

    server.routes[("GET", "/api/v1/stream/applications")] = stream
    got = list(client(server).stream("/api/v1/stream/applications", params={"name": "web"}))
    assert got == [{"n": 1}, {"n": 2}]


def test_stream_error_chunk_raises_typed_error(server: FakeServer) -> None:
    server.routes[("GET", "/s")] = lambda r: (
        200,
        iter(['{"error":{"grpc_code":7,"http_code":403,"message":"permission denied"}}']),
    )
    with pytest.raises(http.Forbidden):
        list(client(server).stream("/s"))


def test_ca_bundle_is_passed_per_request_so_env_cannot_override(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With verify=False given per request, REQUESTS_CA_BUNDLE must not turn verification back on
    # (it would for Session.verify). Over plain HTTP we can only check that the call goes through.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    server.routes[("GET", "/x")] = lambda r: (200, {})
    assert client(server, verify=False).get("/x") == {}


def test_retry_after_http_date() -> None:
    assert http._parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert http._parse_retry_after("garbage") is None


@pytest.fixture
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeServer, str]]:
    """An HTTPS server with a certificate from a private CA (made with openssl)."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl not available")
    d = tmp_path_factory.mktemp("tls")
    run = lambda *a: subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=Test CA",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / "srv.pem", d / "srv.key")
    fake = FakeServer()
    fake.routes[("GET", "/api/version")] = lambda r: (200, {"Version": "v3.5.1"})
    fake.start(tls=context)
    yield fake, str(d / "ca.pem")
    fake.stop()


def test_tls_is_verified_and_a_private_ca_bundle_works(
    tls_server: tuple[FakeServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, ca = tls_server
    with pytest.raises(http.Unreachable) as info:
        http.Client(server.url, name="Argo CD", retries=0).get("/api/version")
    assert "TLS verification failed for Argo CD" in str(info.value) and "--ca-bundle" in str(
        info.value
    )
    assert info.value.exit_code == ExitCode.REMOTE
    assert http.Client(server.url, verify=ca).get("/api/version") == {"Version": "v3.5.1"}
    # REQUESTS_CA_BUNDLE would override Session.verify; our per-request verify wins
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    assert http.Client(server.url, verify=ca).get("/api/version") == {"Version": "v3.5.1"}
    assert http.Client(server.url, verify=False).get("/api/version") == {"Version": "v3.5.1"}


# --- the command's deadline (issue 14, item 1) ------------------------------------------------


def test_retry_never_sleeps_past_the_deadline(server: FakeServer) -> None:
    """A Retry-After of 3 s with 2 s left: no sleep, the server's error at once."""
    server.routes[("GET", "/x")] = lambda r: (503, {"message": "busy"}, {"Retry-After": "3"})
    now = [100.0]
    c = client(server, clock=lambda: now[0], deadline=102.0)
    with pytest.raises(http.ServerError):
        c.get("/x")
    assert c.sleeps == []  # type: ignore[attr-defined]
    assert server.count("GET", "/x") == 1


def test_every_call_gets_only_the_time_left(server: FakeServer) -> None:
    """A blocking call (Argo CD's ?refresh=) asks for 60 s; with 1.5 s left it gets 1.5 s, and a
    read that runs out at the deadline is a timeout of the command (exit 6), not a remote error."""
    import threading

    release = threading.Event()
    server.routes[("GET", "/slow")] = lambda r: (release.wait(5), (200, {}))[1]
    c = client(server, deadline=0.0)
    c.clock = lambda: -1.5  # 1.5 s before the deadline, for ever (a fake clock)
    seen: list[object] = []
    original = c.session.request

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs["timeout"])
        kwargs["timeout"] = 0.2  # do not really wait 1.5 s
        return original(*args, **kwargs)  # type: ignore[arg-type]

    c.session.request = spy  # type: ignore[method-assign]
    with pytest.raises(http.DeadlinePassed) as info:
        c.request("GET", "/slow", timeout=(5.0, 60.0), retry_slow=False)
    release.set()
    assert seen == [(1.5, 1.5)]
    assert info.value.exit_code == ExitCode.TIMEOUT


def test_no_call_starts_after_the_deadline(server: FakeServer) -> None:
    server.routes[("GET", "/x")] = lambda r: (200, {})
    c = client(server, clock=lambda: 10.0, deadline=9.0)
    with pytest.raises(http.DeadlinePassed):
        c.get("/x")
    assert server.count("GET", "/x") == 0


def test_tls_to_a_plain_http_port_says_so(server: FakeServer) -> None:
    """https:// against a plain-HTTP server with --insecure given: the hint is http:// or
    --plaintext, never the --insecure already passed (issue 14, item 8)."""
    server.routes[("GET", "/x")] = lambda r: (200, {})
    c = http.Client(server.url.replace("http://", "https://"), name="Argo CD", verify=False)
    with pytest.raises(http.Unreachable) as info:
        c.get("/x")
    text = str(info.value)
    assert "answers plain HTTP" in text
    assert server.url in text and "--plaintext" in text
    assert "--insecure" not in text


@pytest.mark.parametrize(
    ("code", "message", "in_progress"),
    [
        (9, "another operation is already in progress", True),
        # the same gRPC code for another precondition: a refusal, not something to wait out
        (9, "Cannot sync to abc1234: auto-sync currently set to main", False),
        (3, "another operation is already in progress", False),
        (None, "another operation is already in progress", False),
    ],
)
def test_a_running_operation_is_its_own_type(
    code: int | None, message: str, in_progress: bool
) -> None:
    """Callers wait out a running operation by its type, never by reading the message: the
    adapter reads Argo CD's message once (code 9 alone also covers other refusals)."""
    err = http.error_for(400, "POST", "/api/v1/applications/a/sync", message, grpc_code=code)
    assert isinstance(err, http.BadRequest)
    assert isinstance(err, http.OperationInProgress) is in_progress


def test_a_server_name_that_does_not_resolve_is_not_retried() -> None:
    """The same class as issue 14, item 7, for the API clients: a name that does not exist
    (EAI_NONAME) will not exist a second later, so no backoff; the message names the host
    whole. (A temporary resolver failure, EAI_AGAIN, is still retried like a refused connection.)"""
    slept: list[float] = []
    client = http.Client("http://argocd.invalid", name="Argo CD", retries=4, sleep=slept.append)
    with pytest.raises(http.NameNotResolved) as caught:
        client.get("/api/v1/applications")
    assert slept == [] and client.requests_sent == 1
    assert caught.value.exit_code == ExitCode.REMOTE
    assert "cannot resolve host argocd.invalid" in caught.value.message
    assert caught.value.hint and "server address" in caught.value.hint


# --- the standard-library transport of Client.exchange (the registry's calls; issue 16) -------
# The registry check must not pay for importing requests (~47 ms of a ~250 ms bump-image), so
# exchange() sends through urllib.request: the same proxies, trust, redirects and errors.


class Proxy:
    """A loopback forward proxy that records what it was asked and answers it itself: a GET or
    HEAD for an absolute URL gets 200 ``via proxy``; a CONNECT (an HTTPS tunnel) is refused."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        asked = self.asked = []  # type: list[tuple[str, str, dict[str, str]]]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                asked.append(
                    (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                )
                if self.command == "CONNECT":
                    self.send_response(403)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"via proxy"
                self.send_response(200)
                self.send_header("X-Proxy", "yes")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_CONNECT = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    p = Proxy()
    yield p
    p.stop()


def test_exchange_goes_through_http_proxy_with_the_absolute_url(
    proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    c = http.Client("http://registry.example:5000", name="registry", retries=0)
    reply = c.exchange("GET", "/v2/", headers={"Accept": "application/json"})
    assert (reply.status, reply.content, reply.headers["x-proxy"]) == (200, b"via proxy", "yes")
    assert proxy.asked[0][:2] == ("GET", "http://registry.example:5000/v2/")
    assert proxy.asked[0][2]["accept"] == "application/json"


def test_exchange_tunnels_https_through_https_proxy(
    proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_login = proxy.url.replace("http://", "http://ci:pr0xy-pass@")
    monkeypatch.setenv("https_proxy", with_login)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # not for an https URL
    c = http.Client("https://registry.example", name="registry", retries=0)
    with pytest.raises(http.Unreachable) as caught:
        c.exchange("HEAD", "/v2/team/web/manifests/v1", headers={"Authorization": "Bearer s3cr3t"})
    assert [(m, p) for m, p, _h in proxy.asked] == [("CONNECT", "registry.example:443")]
    asked = proxy.asked[0][2]
    assert "authorization" not in asked  # the origin's credentials stay in the tunnel
    assert asked["proxy-authorization"] == "Basic " + base64.b64encode(b"ci:pr0xy-pass").decode()
    assert "cannot reach registry at https://registry.example" in caught.value.message
    assert "pr0xy-pass" not in str(caught.value) and "s3cr3t" not in str(caught.value)


def test_no_proxy_sends_exchange_straight_to_the_server(
    proxy: Proxy, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.routes[("GET", "/v2/")] = lambda r: (200, {})
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.0/8")  # a CIDR, as requests reads NO_PROXY
    assert http.Client(server.url, retries=0).exchange("GET", "/v2/").status == 200
    assert proxy.asked == [] and server.count("GET", "/v2/") == 1


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"HTTPS_PROXY": "http://p:3128"}, "https://registry.example.com/v2/"),
        ({"HTTP_PROXY": "http://p:3128"}, "https://registry.example.com/v2/"),
        ({"HTTP_PROXY": "http://p:3128"}, "http://registry.example.com:5000/v2/"),
        ({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"}, "https://r.io/"),
        ({"ALL_PROXY": "http://p:3128"}, "https://r.io/"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https://registry.example.com/"),
        (
            {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".example.com"},
            "https://registry.example.com/",
        ),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https://badexample.com/"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "https://example.com/"),
        ({"HTTP_PROXY": "http://u:pw@p:1", "NO_PROXY": "localhost"}, "http://r.io/"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.com"}, "https://registry.example.com/"),
        ({"HTTPS_PROXY": "http://p:1", "no_proxy": " a.io , r.io:5000"}, "https://r.io:5000/"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "r.io:5000"}, "https://r.io:443/"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3:5000/"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.1.2.3"}, "https://10.1.2.3/"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.1.2.3:5000"}, "https://10.1.2.3:5000/"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://r.io/"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "192.168.0.0/16"}, "https://10.1.2.3/"),
    ],
)
def test_the_proxy_is_the_one_requests_would_use(
    env: dict[str, str], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import requests.utils

    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    chosen = requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))
    expected = chosen and requests.utils.prepend_scheme_if_needed(chosen, "http")
    assert stdhttp.proxy_for(url) == expected


def test_exchange_trusts_the_ca_bundle_requests_would(
    tls_server: tuple[FakeServer, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify on: certifi's bundle, or REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE when set; a
    --ca-bundle FILE wins over both; insecure skips verification without a warning."""
    import warnings

    server, ca = tls_server
    server.routes[("GET", "/v2/")] = lambda r: (200, {})

    def status(verify: bool | str = True) -> int:
        c = http.Client(server.url, verify=verify, retries=0)
        try:
            return c.exchange("GET", "/v2/").status
        finally:
            c.close()

    with pytest.raises(http.TlsFailed) as caught:
        http.Client(server.url, name="registry r", retries=0).exchange("GET", "/v2/")
    assert caught.value.message == (
        f"TLS verification failed for registry r at {server.url}: "
        "certificate verify failed: unable to get local issuer certificate"
    )
    assert caught.value.hint and "--ca-bundle FILE" in caught.value.hint
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        with monkeypatch.context() as env:
            env.setenv(name, ca)
            assert status() == 200
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    assert status(ca) == 200
    with pytest.raises(http.TlsFailed, match=r"CA bundle /nonexistent/bundle\.pem not found"):
        status()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert status(False) == 200


def test_exchange_over_tls_to_a_plain_http_port_says_so(server: FakeServer) -> None:
    c = http.Client(server.url.replace("http://", "https://"), name="registry r", verify=False)
    with pytest.raises(http.TlsFailed) as caught:
        c.exchange("GET", "/v2/")
    assert "answers plain HTTP there (WRONG_VERSION_NUMBER)" in caught.value.message
    assert server.url in str(caught.value)


def test_a_redirect_keeps_authorization_on_its_host_only(server: FakeServer) -> None:
    other = FakeServer().start()
    try:
        elsewhere = other.url.replace("127.0.0.1", "localhost")
        other.routes[("GET", "/blob")] = lambda r: (200, b"blob")
        server.routes[("GET", "/moved")] = lambda r: (307, b"", {"Location": "/here"})
        server.routes[("GET", "/here")] = lambda r: (200, b"here")
        server.routes[("GET", "/away")] = lambda r: (302, b"", {"Location": f"{elsewhere}/blob"})
        server.routes[("HEAD", "/moved")] = lambda r: (301, b"", {"Location": "/here"})
        server.routes[("HEAD", "/here")] = lambda r: (200, b"")
        c = http.Client(server.url, retries=0)
        secret = {"Authorization": "Bearer s3cr3t-token"}
        assert c.exchange("GET", "/moved", headers=secret).content == b"here"
        assert server.requests[-1].headers["authorization"] == "Bearer s3cr3t-token"
        assert c.exchange("HEAD", "/moved", headers=secret).status == 200
        assert server.requests[-1].path == "/here"
        assert c.exchange("GET", "/away", headers=secret).content == b"blob"
        assert "authorization" not in other.requests[-1].headers
    finally:
        other.stop()


def test_exchange_answers_errors_by_status_and_retries_like_the_rest(server: FakeServer) -> None:
    answers = iter([(503, b"busy", {"Retry-After": "2"}), (200, b"ok")])
    server.routes[("GET", "/x")] = lambda r: next(answers)
    server.routes[("GET", "/gone")] = lambda r: (404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})
    server.routes[("GET", "/boom")] = lambda r: (500, {"message": "boom"})
    c = client(server)
    assert c.exchange("GET", "/x").content == b"ok"
    assert c.sleeps == [2.0]  # type: ignore[attr-defined]
    gone = c.exchange("GET", "/gone", accept=frozenset({404}))
    assert gone.status == 404 and b"MANIFEST_UNKNOWN" in gone.content
    assert gone.headers["content-type"] == "application/json"
    with pytest.raises(http.ServerError) as caught:
        client(server, retries=0).exchange("GET", "/boom")
    assert caught.value.status == 500 and caught.value.server_message == "boom"


def test_exchange_without_a_connection_is_unreachable_after_retries() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    sleeps: list[float] = []
    c = http.Client(f"http://127.0.0.1:{port}", name="registry r", retries=2, sleep=sleeps.append)
    with pytest.raises(http.Unreachable) as caught:
        c.exchange("HEAD", "/v2/", headers={"Authorization": "Basic c2VjcmV0"})
    assert c.requests_sent == 3 and len(sleeps) == 2
    assert re.search(r": \[Errno \d+\] Connection refused$", caught.value.message), caught.value
    assert "c2VjcmV0" not in str(caught.value)
    dns = http.Client("http://registry.invalid", name="registry r", sleep=sleeps.append)
    with pytest.raises(http.NameNotResolved) as named:
        dns.exchange("GET", "/v2/")
    assert dns.requests_sent == 1 and "cannot resolve host registry.invalid" in named.value.message


def test_a_slow_exchange_is_too_slow_or_past_the_deadline(server: FakeServer) -> None:
    import threading

    release = threading.Event()
    server.routes[("GET", "/slow")] = lambda r: (release.wait(5), (200, {}))[1]
    try:
        c = client(server, read_timeout=0.2, retries=1)
        with pytest.raises(http.TooSlow):
            c.exchange("GET", "/slow")
        assert server.count("GET", "/slow") == 2  # one retry, no sleep
        c = client(server, deadline=0.0)
        c.clock = lambda: -0.2  # 0.2 s before the deadline, for ever
        with pytest.raises(http.DeadlinePassed):
            c.exchange("GET", "/slow")
    finally:
        release.set()


def test_a_clients_exchanges_share_one_connection(server: FakeServer) -> None:
    """As requests' session: a check's calls (the probe, the manifest, a tag page) reuse the
    connection (over TLS each new one is a handshake); a kept connection the server has
    dropped meanwhile is replaced, and the call goes through."""
    server.routes[("GET", "/v2/")] = lambda r: (200, {})
    server.routes[("HEAD", "/v2/team/web/manifests/v1")] = lambda r: (200, b"")
    c = http.Client(server.url, retries=0)
    c.exchange("GET", "/v2/")
    c.exchange("HEAD", "/v2/team/web/manifests/v1")
    c.exchange("GET", "/v2/")
    assert len({r.peer for r in server.requests}) == 1
    for kept in c._kept.values():
        assert kept.sock is not None
        kept.sock.shutdown(socket.SHUT_RDWR)  # as a server's idle timeout would
    assert c.exchange("GET", "/v2/").status == 200
    assert c.requests_sent == 4 and len({r.peer for r in server.requests}) == 2
    c.close()
    assert c._kept == {}


def test_exchange_does_not_import_requests(server: FakeServer) -> None:
    import subprocess
    import sys

    server.routes[("GET", "/v2/")] = lambda r: (200, {})
    code = (
        "import sys\n"
        "from gitops_release.argo.http import Client\n"
        f"print(Client({server.url!r}).exchange('GET', '/v2/').status, 'requests' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["200", "False"], done.stderr
