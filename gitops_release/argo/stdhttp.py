"""The standard library's HTTP transport of :meth:`argo.http.Client.exchange` (the registry's
calls), and the kinds of "no answer" every transport reports to the client's one retry loop:
the only importer of ``urllib.request``, ``http.client`` and ``certifi``.

Why not requests here: the registry check is the one HTTP call of a local ``bump-image``, whose
run is ~250-300 ms; importing requests cost ~47 ms of CPU there, ``urllib.request`` with ``ssl``
~8-11 ms (see ``argo/http.py`` for the figures). What a user relies on is kept: proxies from the
environment as requests picks them (:func:`proxy_for`), the same trust (certifi's bundle, or
``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``), redirects for GET and HEAD with ``Authorization``
kept to the same origin, the same errors, and the connection kept from one call to the next.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import socket
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from gitops_release.output import redact


def preload() -> threading.Thread | None:
    """Import the registry's HTTP stack (``urllib.request``, which brings ``http.client`` and
    ``ssl``: ~11 ms) on a thread, for a caller that is about to wait on a child process (git's
    fetch) before its first call: the import then overlaps the wait instead of adding to the
    run. None when it is imported already."""
    if "urllib.request" in sys.modules:
        return None
    thread = threading.Thread(target=importlib.import_module, args=("urllib.request",), daemon=True)
    thread.start()
    return thread


class NoAnswer(Exception):
    """One attempt that got no HTTP answer, as a transport reports it to :meth:`Client._send`
    (which maps each kind to the user's error): ``reason`` is short and names no secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PlainHttp(NoAnswer):
    """TLS asked of a server that answers plain HTTP (OpenSSL: WRONG_VERSION_NUMBER)."""


class Untrusted(NoAnswer):
    """The TLS handshake failed: certificate not trusted, wrong name, no common protocol."""


class NoSuchName(NoAnswer):
    """The resolver says the host name does not exist."""


class Unconnected(NoAnswer):
    """No answer over the connection; ``refused``: the request never reached the server."""

    def __init__(self, reason: str, *, refused: bool) -> None:
        super().__init__(reason)
        self.refused = refused


class Slow(NoAnswer):
    """Connected, but no answer within the read timeout."""


NO_SUCH_NAME = frozenset(
    code for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)) if code is not None
)
"""The resolver's "this name does not exist" (not EAI_AGAIN, a temporary failure, retried)."""


def short_reason(err: Exception) -> str:
    """A short reason from a requests exception, without the URL it repeats."""
    text = str(err)
    verify = _VERIFY_FAILED.search(text)
    if verify:  # OpenSSL's words, without the exception reprs around them
        return verify.group(1).strip()
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return redact(text.strip("()'\" ")[:160])  # requests quotes the reason: "...refused"))


_VERIFY_FAILED = re.compile(r"(certificate verify failed: [^(]+?)\s*(?:\(_ssl|'|\)|$)")


class Answer:
    """An answer read whole by the standard-library transport, shaped like the part of a
    ``requests.Response`` that :meth:`Client._send` reads."""

    def __init__(self, status: int, pairs: list[tuple[str, str]], content: bytes) -> None:
        self.status_code = status
        self.headers = _Headers(pairs)
        self.content = content

    def close(self) -> None:
        pass


class _Headers(Mapping[str, str]):
    """Header names in any case, repeated headers joined with ", " (as requests shows them)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._named: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            self._named[key] = f"{self._named[key]}, {value}" if key in self._named else value

    def __getitem__(self, name: str) -> str:
        return self._named[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._named)

    def __len__(self) -> int:
        return len(self._named)


def send(
    method: str,
    url: str,
    data: bytes | None,
    headers: Mapping[str, str],
    timeout: tuple[float, float],
    verify: bool | str,
    stream: bool,
    *,
    kept: dict[tuple[str, str, str, str], Any],
) -> Answer:
    """One attempt through ``urllib.request``, read whole (``stream`` is not offered here), on
    a connection of ``kept`` when there is one (see :func:`_on_kept_connection`).

    Requests' behaviour, kept: proxies from the environment as requests picks them
    (:func:`proxy_for`), its trust (:func:`_tls_context`), redirects followed for GET and HEAD
    with ``Authorization`` kept only on the same origin (it is an unredirected header, which
    urllib never copies; the redirect handler of :func:`_handler_types` puts it back where
    requests would keep it), the connect timeout for the connection and the read timeout for
    each read."""
    import http.client
    import urllib.error
    import urllib.request

    if stream:
        raise ValueError("the standard-library transport reads answers whole")
    request = urllib.request.Request(url, data=data, method=method)
    for name, value in headers.items():
        if name.lower() == "authorization":
            request.add_unredirected_header(name.capitalize(), value)
        else:
            request.add_header(name.capitalize(), value)
    opener = _opener(timeout, verify, kept)
    try:
        with opener.open(request, timeout=timeout[0]) as response:
            return Answer(response.status, list(response.headers.items()), response.read())
    except urllib.error.HTTPError as err:  # a redirect loop; any other status is an answer
        try:
            return Answer(err.code, list(err.headers.items()), err.read())
        finally:
            err.close()
    except urllib.error.URLError as err:  # no connection: refused, DNS, TLS, connect timeout
        raise _stdlib_failure(err.reason, connecting=True) from None
    except (OSError, http.client.HTTPException) as err:  # connected, then no whole answer
        raise _stdlib_failure(err, connecting=False) from None


def _stdlib_failure(reason: object, *, connecting: bool) -> NoAnswer:
    import ssl

    text = short_reason(reason) if isinstance(reason, Exception) else redact(str(reason))
    if isinstance(reason, ssl.SSLError):
        if "WRONG_VERSION_NUMBER" in repr(reason):
            return PlainHttp(text)
        return Untrusted(text)
    if isinstance(reason, socket.gaierror):
        if reason.errno in NO_SUCH_NAME:
            return NoSuchName(str(reason.strerror or reason))
        return Unconnected(text, refused=True)
    if isinstance(reason, TimeoutError) and not connecting:
        return Slow(text)
    # as requests: refused or a connect timeout never reached the server (any method may retry)
    refused = connecting and isinstance(reason, (ConnectionRefusedError, TimeoutError))
    return Unconnected(text, refused=refused)


def _opener(timeout: tuple[float, float], verify: bool | str, kept: dict[Any, Any]) -> Any:
    """An opener for one attempt: the proxy for the URL, the TLS trust, kept connections, our
    redirect rules, every status an answer (no ``HTTPError`` raised for a 4xx/5xx)."""
    import urllib.request

    plain, tls = _connection_types()

    class Connections(urllib.request.AbstractHTTPHandler):
        http_request = https_request = urllib.request.AbstractHTTPHandler.do_request_

        def http_open(self, req: urllib.request.Request) -> Any:
            return _on_kept_connection(kept, req, plain, {}, timeout)

        def https_open(self, req: urllib.request.Request) -> Any:
            # the trust is part of the key: a connection made unverified is never reused for
            # a verified call (an insecure registry's token realm is verified, for one)
            context = {"context": _tls_context(verify)}
            return _on_kept_connection(kept, req, tls, context, timeout, str(verify))

    opener = urllib.request.OpenerDirector()
    for handler in (Connections(), *(kind() for kind in _handler_types())):
        opener.add_handler(handler)
    return opener


@functools.cache
def _connection_types() -> tuple[Any, Any]:
    """http.client's connections with requests' two timeouts: ``timeout`` for connecting (the
    TLS handshake and a proxy's CONNECT included), then ``read_timeout`` for each read."""
    import http.client

    class Plain(http.client.HTTPConnection):
        read_timeout: float | None = None

        def connect(self) -> None:
            super().connect()
            self.sock.settimeout(self.read_timeout)

    class Secure(http.client.HTTPSConnection):
        read_timeout: float | None = None

        def connect(self) -> None:
            super().connect()
            self.sock.settimeout(self.read_timeout)

    return Plain, Secure


def _on_kept_connection(
    kept: dict[tuple[str, str, str, str], Any],
    req: Any,
    kind: Any,
    options: dict[str, Any],
    timeout: tuple[float, float],
    trust: str = "",
) -> Any:
    """urllib's ``do_open``, on a connection kept from the client's previous call to the same
    server (or proxy) as requests' session keeps one: without it, each call of a check is a new
    TCP connection and, over TLS, a new handshake. A kept connection that the server closed
    meanwhile fails at once; the call is then sent once more on a new one (the registry's
    calls are idempotent). The answer is read whole here, then the connection goes back to
    ``kept`` (a connection left with part of an answer unread is never reused)."""
    import http.client
    import io
    import urllib.error
    import urllib.response

    key = (req.type, req.host, req._tunnel_host or "", trust)
    headers = {**req.headers, **req.unredirected_hdrs}
    headers = {name.title(): value for name, value in headers.items()}
    tunnel = {}
    if "Proxy-Authorization" in headers:  # for the proxy's CONNECT, never for the server
        tunnel["Proxy-Authorization"] = headers.pop("Proxy-Authorization")
    conn = kept.pop(key, None)
    while True:
        reused = conn is not None
        if conn is None:
            conn = kind(req.host, timeout=timeout[0], **options)
            if req._tunnel_host:
                conn.set_tunnel(req._tunnel_host, headers=tunnel)
        conn.timeout, conn.read_timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(conn.read_timeout)
        try:
            try:
                conn.request(req.get_method(), req.selector, req.data, headers)
            except (OSError, http.client.ImproperConnectionState) as err:
                if reused:
                    raise _Stale from None
                raise urllib.error.URLError(err) from None
            try:
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if reused:
                    raise _Stale from None
                raise
            body = response.read()
        except _Stale:
            conn.close()
            conn = None
            continue
        except BaseException:
            conn.close()
            raise
        kept[key] = conn  # read whole: the next call may use it
        answer = urllib.response.addinfourl(io.BytesIO(body), response.headers, req.full_url)
        answer.code = response.status
        answer.msg = response.reason  # type: ignore[attr-defined]  # what HTTPErrorProcessor reads
        return answer


class _Stale(Exception):
    """A kept connection the server had closed: the call goes out again on a new one."""


def _tls_context(verify: bool | str) -> Any:
    """requests' trust: ``verify`` a CA bundle file (or directory), or True: the bundle named by
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``, else certifi's; False: no verification.
    Built once per bundle (loading certifi's ~150 certificates costs ~20 ms). A bundle that is
    not there fails the call as a TLS failure (requests raises a bare OSError)."""
    if verify is True:
        env = os.environ
        verify = env.get("REQUESTS_CA_BUNDLE") or env.get("CURL_CA_BUNDLE") or True
    key = str(verify)
    with _CONTEXT_LOCK:
        if key not in _CONTEXTS:
            _CONTEXTS[key] = _new_tls_context(verify)
        return _CONTEXTS[key]


def _new_tls_context(verify: bool | str) -> Any:
    import ssl

    if verify is False:  # no trust to load (the system's store alone costs ~20 ms)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if verify is True:
        import certifi

        verify = certifi.where()
    if not os.path.exists(verify):
        raise Untrusted(f"CA bundle {verify} not found")
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


_CONTEXTS: dict[str, Any] = {}
_CONTEXT_LOCK = threading.Lock()


def proxy_for(url: str) -> str | None:
    """The proxy requests would send ``url`` through, from the environment: ``NO_PROXY`` read
    as requests reads it (a domain and the names under it, ``host:port``, an IPv4 address or
    CIDR range, ``*``), then ``<scheme>_proxy`` or ``all_proxy`` (lower case first). None:
    straight to the server. (requests.utils ``should_bypass_proxies``, ``select_proxy``.) A
    proxy written without a scheme is read as ``http://`` (requests would take its host for a
    scheme and fail)."""
    import urllib.request

    parts = urlsplit(url)
    host = parts.hostname
    if host is None:
        return None
    no_proxy = os.environ.get("no_proxy") or os.environ.get("NO_PROXY")
    if no_proxy and _bypassed(host, parts.port, no_proxy):
        return None
    try:
        if urllib.request.proxy_bypass(host):
            return None
    except (TypeError, socket.gaierror):
        pass
    proxies = urllib.request.getproxies()
    for key in (f"{parts.scheme}://{host}", parts.scheme, f"all://{host}", "all"):
        if key in proxies:
            proxy = proxies[key]
            return proxy if "://" in proxy else f"http://{proxy}"
    return None


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    entries = [entry for entry in no_proxy.replace(" ", "").split(",") if entry]
    if _is_ipv4(host):
        import ipaddress

        for entry in entries:
            if "/" in entry:
                try:
                    if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
            elif host == entry:
                return True
        return False
    with_port = f"{host}:{port}" if port else host
    for entry in (e.lstrip(".") for e in entries):  # the name, or a name under it
        if (
            entry in (host, with_port)
            or host.endswith(f".{entry}")
            or with_port.endswith(f".{entry}")
        ):
            return True
    return False


def _is_ipv4(host: str) -> bool:
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


@functools.cache
def _handler_types() -> tuple[type[Any], ...]:
    """urllib's handlers as we want them, defined on first use (urllib.request is not imported
    at start-up, nor by a run that makes no registry call)."""
    import urllib.request

    class Proxies(urllib.request.ProxyHandler):
        """The proxy :func:`proxy_for` picks, per request (a redirect is routed afresh)."""

        def __init__(self) -> None:
            super().__init__({})

        def http_open(self, req: urllib.request.Request) -> Any:
            proxy = proxy_for(req.full_url)
            return None if proxy is None else self.proxy_open(req, proxy, req.type)

        https_open = http_open

    class Redirects(urllib.request.HTTPRedirectHandler):
        """GET and HEAD follow a redirect (anything else: the 3xx is the answer, as requests'
        ``allow_redirects=False``). ``Authorization`` goes along only to the same origin (an
        http -> https upgrade on the default ports included): requests' ``should_strip_auth``."""

        def redirect_request(
            self,
            req: urllib.request.Request,
            fp: Any,
            code: int,
            msg: str,
            headers: Any,
            newurl: str,
        ) -> urllib.request.Request | None:
            if req.get_method() not in ("GET", "HEAD"):
                return None
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
            if new is None:
                return None
            new.method = req.get_method()
            if _same_origin(req.full_url, new.full_url):
                for name, value in req.unredirected_hdrs.items():
                    if name.lower() == "authorization":
                        new.add_unredirected_header(name, value)
            return new

    class EveryStatus(urllib.request.BaseHandler):
        """A status no handler took (4xx, 5xx, a 3xx not followed) is the answer."""

        handler_order = 1000

        def http_error_default(
            self, req: urllib.request.Request, fp: Any, code: int, msg: str, hdrs: Any
        ) -> Any:
            return fp

    return Proxies, Redirects, EveryStatus, urllib.request.HTTPErrorProcessor


def _same_origin(old: str, new: str) -> bool:
    """requests' ``should_strip_auth``, inverted: same host, and the same scheme and port, or
    http -> https on the default ports."""
    a, b = urlsplit(old), urlsplit(new)
    if a.hostname != b.hostname:
        return False
    if (
        a.scheme == "http"
        and b.scheme == "https"
        and a.port in (80, None)
        and b.port in (443, None)
    ):
        return True
    default = {"http": 80, "https": 443}
    same_port = (a.port or default.get(a.scheme)) == (b.port or default.get(b.scheme))
    return a.scheme == b.scheme and same_port
