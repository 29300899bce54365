"""HTTP: the only importer of requests, and of the standard library's HTTP client.

One :class:`Client` per server (Argo CD, the Rollouts dashboard, a registry). Every call has a
timeout; connection errors, 429 and 502/503/504 are retried a bounded number of times with jittered
exponential backoff, honouring ``Retry-After``, on idempotent calls only (a connection that was
refused never reached the server, so that one is retried for every method). Every non-2xx answer
becomes a typed :class:`ApiError` carrying the status, method, URL (never a token: tokens travel in
headers) and the server's own message.

Two transports under that one retry loop (:meth:`Client._send`; a transport only sends one attempt
and reports a failure as a :class:`NoAnswer` kind):

- requests, for Argo CD and the Rollouts dashboard (``request``, ``stream``, ``probe``): sessions
  with kept-alive connections, streams, and the import already paid by a run that talks to them.
- ``urllib.request`` for :meth:`Client.exchange`, the registry's calls. The registry check is the
  one HTTP call of a local ``bump-image``, whose run is ~250-300 ms: importing requests cost ~47 ms
  of CPU there (urllib3 alone ~26 ms), ``urllib.request`` with ``ssl`` ~8-11 ms (measured in the
  process after the command line's own imports). The whole check against a loopback registry, in
  a fresh process: 49 ms of CPU with requests, 11 ms with this; issue 16's bench
  ``registry_check`` (check on/off, local checkout): 1.16-1.28x before, 1.01-1.09x after, on a
  noisy 2-core machine. It keeps requests' behaviour a user relies on:
  proxies from the environment as requests picks them (:func:`proxy_for`), the same trust
  (certifi's bundle, or ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``), redirects for GET and HEAD
  with ``Authorization`` kept to the same origin, the same errors; and, as a session, the
  connection kept from one call to the next (urllib alone closes it after each answer).

TLS is verified unless ``insecure``. A custom CA bundle is passed as ``verify=`` on every request:
``REQUESTS_CA_BUNDLE`` in the environment silently overrides ``Session.verify``, but not a per-request
value (requests ``merge_environment_settings``).
"""

from __future__ import annotations

import datetime
import email.utils
import functools
import importlib
import json
import os
import random
import re
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from gitops_release import journal
from gitops_release.argo.apierrors import (
    ApiError,
    AppForbidden,
    BadRequest,
    BadResponse,
    Conflict,
    DeadlinePassed,
    Forbidden,
    NameNotResolved,
    NotFound,
    OperationInProgress,
    ServerError,
    TlsFailed,
    TooSlow,
    Unauthorized,
    Unreachable,
    error_for,
    grpc_code,
    server_message,
)
from gitops_release.errors import RemoteError
from gitops_release.output import redact

__all__ = [
    "ApiError",
    "AppForbidden",
    "BadRequest",
    "BadResponse",
    "Client",
    "Conflict",
    "DeadlinePassed",
    "Forbidden",
    "NameNotResolved",
    "NotFound",
    "OperationInProgress",
    "RemoteError",
    "ServerError",
    "TlsFailed",
    "TooSlow",
    "Unauthorized",
    "Unreachable",
    "error_for",
    "server_message",
]

if TYPE_CHECKING:
    import requests

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUS = frozenset({429, 502, 503, 504})
MAX_RETRY_AFTER = 30.0


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


class _PlainHttp(NoAnswer):
    """TLS asked of a server that answers plain HTTP (OpenSSL: WRONG_VERSION_NUMBER)."""


class _Untrusted(NoAnswer):
    """The TLS handshake failed: certificate not trusted, wrong name, no common protocol."""


class _NoSuchName(NoAnswer):
    """The resolver says the host name does not exist."""


class _Unconnected(NoAnswer):
    """No answer over the connection; ``refused``: the request never reached the server."""

    def __init__(self, reason: str, *, refused: bool) -> None:
        super().__init__(reason)
        self.refused = refused


class _Slow(NoAnswer):
    """Connected, but no answer within the read timeout."""


Transport = Callable[
    [str, str, "bytes | None", Mapping[str, str], tuple[float, float], "bool | str", bool], Any
]
"""Sends one attempt: (method, url, body, headers, (connect, read) timeouts, TLS verify,
stream) -> an answer with ``status_code``, ``headers``, ``content`` and ``close()``; or raises
a :class:`NoAnswer` kind."""


@dataclass
class Client:
    """A configured session for one server. ``requests_sent`` counts every HTTP request made."""

    base_url: str
    name: str = "server"
    token: str | None = None
    verify: bool | str = True
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 4
    backoff: float = 0.25
    max_backoff: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    headers: dict[str, str] = field(default_factory=dict)
    requests_sent: int = 0
    clock_offset: float = 0.0
    """Server clock minus ours, from the ``Date`` header (0 while within 2 s: its resolution)."""
    deadline: float | None = None
    """``time.monotonic()`` past which no call may run (the command's ``--timeout``): every
    call's connect and read timeouts are cut to what is left, and no retry sleeps past it, so a
    blocking refresh or a retry cannot carry a wait beyond its deadline."""
    deadline_label: str = ""
    clock: Callable[[], float] = time.monotonic
    _session: requests.Session | None = field(default=None, repr=False)
    _kept: dict[tuple[str, str, str, str], Any] = field(default_factory=dict, repr=False)
    """The standard-library transport's open connections, by (scheme, host or proxy, host
    tunnelled to, TLS trust)."""

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            import requests

            session = requests.Session()
            session.headers.update(self._headers())
            self._session = session
        return self._session

    def _headers(self) -> dict[str, str]:
        """What every call of this client sends (calls may add to it, or replace a header)."""
        headers = {"Accept": "application/json", **self.headers}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        while self._kept:
            self._kept.popitem()[1].close()

    def _note_date(self, header: str | None) -> None:
        if not header:
            return
        try:
            server = email.utils.parsedate_to_datetime(header).timestamp()
        except (TypeError, ValueError):
            return
        offset = server - time.time()
        self.clock_offset = offset if abs(offset) > 2.0 else 0.0

    def server_now(self) -> datetime.datetime:
        """The server's idea of now: ages and delays are computed against its clock, not ours."""
        return datetime.datetime.fromtimestamp(time.time() + self.clock_offset, datetime.UTC)

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        query = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        url = f"{self.base_url}{path}"
        return f"{url}?{urlencode(query, doseq=True)}" if query else url

    def _left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.clock()

    def _budget(
        self, method: str, shown: str, timeout: float | tuple[float, float] | None
    ) -> tuple[tuple[float, float], bool]:
        """The timeouts of one attempt, cut to the deadline; and whether they were cut."""
        connect, read = (
            (timeout, timeout) if isinstance(timeout, (int, float)) else
            timeout or (self.connect_timeout, self.read_timeout)
        )  # fmt: skip
        left = self._left()
        if left is None:
            return (connect, read), False
        if left <= 0:
            raise self._deadline_passed(method, shown)
        return (min(connect, left), min(read, left)), read > left

    def _deadline_passed(self, method: str, shown: str) -> DeadlinePassed:
        label = f" after {self.deadline_label}" if self.deadline_label else ""
        return DeadlinePassed(
            f"timed out{label}: {self.name} had not answered {method} {shown} by then",
            hint="raise --timeout, or check the server's load",
        )

    def _may_sleep(self, delay: float) -> bool:
        left = self._left()
        return left is None or delay < left

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            seconds = _parse_retry_after(retry_after)
            if seconds is not None:
                return min(seconds, MAX_RETRY_AFTER)
        cap = min(self.max_backoff, self.backoff * (2**attempt))
        return random.uniform(cap / 2, cap)  # jitter: never two clients in lock-step

    def _send(
        self,
        method: str,
        url: str,
        *,
        body: Any,
        timeout: float | tuple[float, float] | None,
        idempotent: bool,
        stream: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        retry_slow: bool = True,
        accept: frozenset[int] = frozenset(),
        verify: bool | str | None = None,
        transport: Transport | None = None,
    ) -> Any:
        """Send ``method url`` until it has an answer: the retries, backoff and ``Retry-After``,
        the deadline, the server's clock and the status -> typed error mapping, for every
        transport. ``transport`` sends one attempt (default: requests' session); the answer is
        what it returned (a ``requests.Response``, or :class:`Answer` from the standard library)."""
        shown = redact(url)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        headers.update(extra_headers or {})
        attempt_once = transport or self._via_requests
        tls = self.verify if verify is None else verify
        attempt = 0
        while True:
            budget, cut = self._budget(method, shown, timeout)
            self.requests_sent += 1
            try:
                response = attempt_once(method, url, data, headers, budget, tls, stream)
            except _PlainHttp:
                plain = redact(self.base_url).replace("https://", "http://", 1)
                raise TlsFailed(
                    f"TLS handshake with {self.name} at {redact(self.base_url)} failed: "
                    "the server answers plain HTTP there (WRONG_VERSION_NUMBER)",
                    hint=f"use {plain}, or --plaintext with a host:port server",
                ) from None
            except _Untrusted as failed:
                skip = "" if self.verify is False else ", or --insecure to skip verification"
                raise TlsFailed(
                    f"TLS verification failed for {self.name} at {redact(self.base_url)}: "
                    f"{failed.reason}",
                    hint=f"pass --ca-bundle FILE for a private CA{skip}",
                ) from None
            except _NoSuchName as failed:  # asking again in a second changes nothing
                raise NameNotResolved(
                    urlsplit(self.base_url).hostname or self.base_url,
                    redact(self.base_url), failed.reason,
                    hint=f"check the server address of {self.name}",
                ) from None  # fmt: skip
            except _Unconnected as failed:
                # A refused connection never reached the server: safe to repeat for any method.
                if attempt < self.retries and (idempotent or failed.refused):
                    delay = self._delay(attempt, None)
                    if self._may_sleep(delay):
                        self.sleep(delay)
                        attempt += 1
                        continue
                raise Unreachable(
                    f"cannot reach {self.name} at {redact(self.base_url)}: {failed.reason}",
                    hint="check the server address, that it is running, and the network",
                ) from None
            except _Slow:
                if cut:
                    raise self._deadline_passed(method, shown) from None
                if attempt < self.retries and idempotent and retry_slow and self._may_sleep(0):
                    attempt += 1
                    continue
                raise TooSlow(
                    f"{self.name} did not answer {method} {shown} in time",
                    hint="the server is slow or overloaded; retry, or raise --timeout",
                ) from None
            self._note_date(response.headers.get("Date"))
            retry = response.status_code in RETRY_STATUS and idempotent and attempt < self.retries
            delay = self._delay(attempt, response.headers.get("Retry-After")) if retry else 0.0
            if retry and self._may_sleep(delay):
                response.close()
                self.sleep(delay)
                attempt += 1
                continue
            if response.status_code >= 300 and response.status_code not in accept:
                raise error_for(
                    response.status_code,
                    method,
                    shown,
                    server_message(response.content, response.headers.get("Content-Type", "")),
                    grpc_code=grpc_code(response.content),
                )
            return response

    def _via_requests(
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: Mapping[str, str],
        timeout: tuple[float, float],
        verify: bool | str,
        stream: bool,
    ) -> requests.Response:
        """One attempt through requests' session; its failures as :class:`NoAnswer` kinds."""
        import requests

        try:
            with warnings.catch_warnings():
                if verify is False:  # asked for with --insecure: no warning per call
                    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
                return self.session.request(
                    method,
                    url,
                    data=data,
                    headers=dict(headers),
                    timeout=timeout,
                    verify=verify,
                    stream=stream,
                    allow_redirects=method == "GET",
                )
        except requests.exceptions.SSLError as err:
            if "WRONG_VERSION_NUMBER" in repr(err):  # OpenSSL's word for a plain-HTTP answer
                raise _PlainHttp(_reason(err)) from None
            raise _Untrusted(_reason(err)) from None
        except requests.exceptions.ConnectionError as err:
            dns = _unresolved(err)
            if dns is not None:
                raise _NoSuchName(str(dns.strerror or dns)) from None
            refused = isinstance(err, requests.exceptions.ConnectTimeout) or (
                "NewConnectionError" in repr(err)
            )
            raise _Unconnected(_reason(err), refused=refused) from None
        except requests.exceptions.Timeout as err:
            raise _Slow(_reason(err)) from None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        timeout: float | tuple[float, float] | None = None,
        idempotent: bool | None = None,
        retry_slow: bool = True,
    ) -> Any:
        """Send one call and return the decoded JSON answer (``{}`` for an empty body).

        ``retry_slow=False``: a read timeout is final (a call that blocks by design, like Argo
        CD's ``?refresh=``, would only block again)."""
        method = method.upper()
        url = self.url(path, params)
        changes = method not in ("GET", "HEAD", "OPTIONS")
        if changes:  # said if the run stops here (the boundary prints the journal)
            key = f"{self.name} {method} {path}"
            journal.note(key, f"{method} {path} sent to {self.name}, answer not seen")
        response = self._send(
            method,
            url,
            body=body,
            timeout=timeout,
            idempotent=method in IDEMPOTENT if idempotent is None else idempotent,
            retry_slow=retry_slow,
        )
        if changes:
            journal.note(key, f"{self.name} accepted {method} {path}")
        return _decode(response, f"{self.name} {method} {redact(url)}")

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def exchange(
        self,
        method: str,
        path_or_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        accept: frozenset[int] = frozenset(),
        verify: bool | str | None = None,
    ) -> Reply:
        """One idempotent call whose status, headers and raw bytes the caller reads (a registry's
        ``Docker-Content-Digest``, ``Link``, ``WWW-Authenticate``). A status in ``accept`` is an
        answer, not an error; an absolute URL (a token realm) is sent as is; ``verify`` overrides
        the client's TLS setting for this call."""
        method = method.upper()
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        response = self._send(
            method,
            url,
            body=None,
            timeout=None,
            idempotent=True,
            extra_headers={**self._headers(), **(headers or {})},
            accept=accept,
            verify=verify,
            transport=functools.partial(_via_stdlib, kept=self._kept),
        )
        return Reply(
            status=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            content=response.content,
            url=redact(url),
        )

    def stream(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        read_timeout: float = 30.0,
    ) -> Iterator[Any]:
        """One JSON object per line (grpc-gateway stream); each ``{"result": ...}`` yields the result.

        Raises :class:`ApiError` for an error chunk, and ends when the server closes the stream or
        the read times out (the caller reconnects). SSE framing (``data: ``) is accepted too.
        """
        import requests

        url = self.url(path, params)
        response = self._send(
            "GET",
            url,
            body=None,
            timeout=(self.connect_timeout, read_timeout),
            idempotent=True,
            stream=True,
            # Argo CD gzips when asked; a compressed stream can hold events back in a buffer
            extra_headers={"Accept-Encoding": "identity"},
        )
        what = f"{self.name} stream {redact(url)}"
        try:
            for raw in response.iter_lines():
                line = raw.decode("utf-8", "replace").strip()
                if line.startswith("data:"):
                    line = line[5:].strip()
                if not line or line.startswith(":"):
                    continue
                try:
                    message = json.loads(line)
                except ValueError:
                    raise BadResponse(
                        f"{what} sent a line that is not JSON: {line[:80]!r}",
                        hint="check the server URL (a proxy in between?)",
                    ) from None
                if isinstance(message, dict) and isinstance(message.get("error"), dict):
                    err = message["error"]
                    raise error_for(
                        int(err.get("http_code") or 500),
                        "GET",
                        redact(url),
                        str(err.get("message") or err),
                    )
                if isinstance(message, dict) and "result" in message:
                    yield message["result"]
        except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError):
            return  # a cut or a read timeout: the caller decides whether to reconnect
        finally:
            response.close()


@dataclass(frozen=True)
class Reply:
    """An answer read whole: status, headers (lower-case names) and the body as received."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str


def _decode(response: requests.Response, what: str) -> Any:
    content = response.content
    if not content.strip():
        return {}
    content_type = response.headers.get("Content-Type", "")
    try:
        return json.loads(content)
    except ValueError:
        kind = content_type.split(";")[0] or "a non-JSON body"
        raise BadResponse(
            f"{what} answered {response.status_code} with {kind}, not JSON",
            hint="check the server URL and base path: a proxy, login page or UI answered instead of the API",
        ) from None


def _parse_retry_after(value: str) -> float | None:
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


NO_SUCH_NAME = frozenset(
    code for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)) if code is not None
)
"""The resolver's "this name does not exist" (not EAI_AGAIN, a temporary failure, retried)."""


def _unresolved(err: BaseException) -> socket.gaierror | None:
    """The "no such name" DNS answer under a requests error (requests -> urllib3 ->
    ``socket.gaierror``); None for any other error, a temporary resolver failure included."""
    seen: list[BaseException] = []
    todo: list[object] = [err]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        if isinstance(item, socket.gaierror):
            return item if item.errno in NO_SUCH_NAME else None
        seen.append(item)
        todo += [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
    return None


def _reason(err: Exception) -> str:
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


# --- the standard library's transport (Client.exchange: the registry's calls) -------------------


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


def _via_stdlib(
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

    text = _reason(reason) if isinstance(reason, Exception) else redact(str(reason))
    if isinstance(reason, ssl.SSLError):
        if "WRONG_VERSION_NUMBER" in repr(reason):
            return _PlainHttp(text)
        return _Untrusted(text)
    if isinstance(reason, socket.gaierror):
        if reason.errno in NO_SUCH_NAME:
            return _NoSuchName(str(reason.strerror or reason))
        return _Unconnected(text, refused=True)
    if isinstance(reason, TimeoutError) and not connecting:
        return _Slow(text)
    # as requests: refused or a connect timeout never reached the server (any method may retry)
    refused = connecting and isinstance(reason, (ConnectionRefusedError, TimeoutError))
    return _Unconnected(text, refused=refused)


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
        raise _Untrusted(f"CA bundle {verify} not found")
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


@dataclass(frozen=True)
class Probe:
    """One answer to a smoke-check GET: any status is an answer, not an error."""

    status: int
    body: str


def probe(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
    verify: bool | str = True,
    max_body: int = 65536,
    method: str = "GET",
    data: bytes | None = None,
    hint: str = "check the URL, or pass --ingress-url to reach the hosts through the ingress",
    label: str | None = None,
) -> Probe:
    """A plain GET of an application URL (smoke checks: ``deploy --check``, ``verify``), or
    ``method`` with ``data`` (a web analysis metric).

    No retries here (the caller retries until its own deadline) and no JSON decoding; a ``Host``
    in ``headers`` reaches a virtual host through an ingress address. Unreachable raises
    :class:`Unreachable`, naming the URL as ``label`` says (default: the URL, redacted)."""
    import requests

    named = redact(url) if label is None else label
    try:
        with requests.request(
            method,
            url,
            data=data,
            headers=dict(headers or {}),
            timeout=(min(timeout, 5.0), timeout),
            verify=verify,
            allow_redirects=False,
            stream=True,
        ) as response:
            body = response.raw.read(max_body, decode_content=True) or b""
            return Probe(response.status_code, body.decode("utf-8", "replace"))
    except requests.exceptions.RequestException as err:
        dns = _unresolved(err)
        if dns is not None:
            host = urlsplit(url).hostname or url
            raise NameNotResolved(
                host, named, str(dns.strerror or dns),
                hint=hint,
            ) from None  # fmt: skip
        raise Unreachable(f"cannot reach {named}: {_reason(err)}", hint=hint) from None
