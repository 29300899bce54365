"""HTTP: the one client of every server we call, and the only importer of requests.

One :class:`Client` per server (Argo CD, the Rollouts dashboard, a registry). Every call has a
timeout; connection errors, 429 and 502/503/504 are retried a bounded number of times with jittered
exponential backoff, honouring ``Retry-After``, on idempotent calls only (a connection that was
refused never reached the server, so that one is retried for every method). Every non-2xx answer
becomes a typed :class:`ApiError` carrying the status, method, URL (never a token: tokens travel in
headers) and the server's own message.

Two transports under that one retry loop (:meth:`Client._send`; a transport only sends one attempt
and reports a failure as a :class:`stdhttp.NoAnswer` kind):

- requests, for Argo CD and the Rollouts dashboard (``request``, ``stream``, ``probe``): sessions
  with kept-alive connections, streams, and the import already paid by a run that talks to them.
- the standard library (``argo/stdhttp.py``) for :meth:`Client.exchange`, the registry's calls.
  The registry check is the
  one HTTP call of a local ``bump-image``, whose run is ~250-300 ms: importing requests cost ~47 ms
  of CPU there (urllib3 alone ~26 ms), ``urllib.request`` with ``ssl`` ~8-11 ms (measured in the
  process after the command line's own imports). The whole check against a loopback registry, in
  a fresh process: 49 ms of CPU with requests, 11 ms with this; issue 16's bench
  ``registry_check`` (check on/off, local checkout): 1.16-1.28x before, 1.01-1.09x after, on a
  noisy 2-core machine. It keeps requests' behaviour a user relies on:
  proxies from the environment as requests picks them (``stdhttp.proxy_for``), the same trust
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
import json
import random
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from gitops_release import journal
from gitops_release.argo import stdhttp
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


Transport = Callable[
    [str, str, "bytes | None", Mapping[str, str], tuple[float, float], "bool | str", bool], Any
]
"""Sends one attempt: (method, url, body, headers, (connect, read) timeouts, TLS verify,
stream) -> an answer with ``status_code``, ``headers``, ``content`` and ``close()``; or raises
a :class:`stdhttp.NoAnswer` kind."""


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
            except stdhttp.PlainHttp:
                plain = redact(self.base_url).replace("https://", "http://", 1)
                raise TlsFailed(
                    f"TLS handshake with {self.name} at {redact(self.base_url)} failed: "
                    "the server answers plain HTTP there (WRONG_VERSION_NUMBER)",
                    hint=f"use {plain}, or --plaintext with a host:port server",
                ) from None
            except stdhttp.Untrusted as failed:
                skip = "" if self.verify is False else ", or --insecure to skip verification"
                raise TlsFailed(
                    f"TLS verification failed for {self.name} at {redact(self.base_url)}: "
                    f"{failed.reason}",
                    hint=f"pass --ca-bundle FILE for a private CA{skip}",
                ) from None
            except stdhttp.NoSuchName as failed:  # asking again in a second changes nothing
                raise NameNotResolved(
                    urlsplit(self.base_url).hostname or self.base_url,
                    redact(self.base_url), failed.reason,
                    hint=f"check the server address of {self.name}",
                ) from None  # fmt: skip
            except stdhttp.Unconnected as failed:
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
            except stdhttp.Slow:
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
        """One attempt through requests' session; its failures as :class:`stdhttp.NoAnswer` kinds."""
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
                raise stdhttp.PlainHttp(stdhttp.short_reason(err)) from None
            raise stdhttp.Untrusted(stdhttp.short_reason(err)) from None
        except requests.exceptions.ConnectionError as err:
            dns = _unresolved(err)
            if dns is not None:
                raise stdhttp.NoSuchName(str(dns.strerror or dns)) from None
            refused = isinstance(err, requests.exceptions.ConnectTimeout) or (
                "NewConnectionError" in repr(err)
            )
            raise stdhttp.Unconnected(stdhttp.short_reason(err), refused=refused) from None
        except requests.exceptions.Timeout as err:
            raise stdhttp.Slow(stdhttp.short_reason(err)) from None

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
            transport=functools.partial(stdhttp.send, kept=self._kept),
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
            return item if item.errno in stdhttp.NO_SUCH_NAME else None
        seen.append(item)
        todo += [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
    return None


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
        raise Unreachable(f"cannot reach {named}: {stdhttp.short_reason(err)}", hint=hint) from None
