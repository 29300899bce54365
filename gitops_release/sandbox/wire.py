"""HTTP plumbing shared by the sandbox's servers: routing, JSON replies, gRPC-gateway errors and
the two stream framings (JSON lines, and Server-Sent Events with ``Accept: text/event-stream``).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import sys
import traceback
import urllib.parse
from collections.abc import Callable
from typing import Any, ClassVar

# grpc-gateway v1.16 runtime.HTTPStatusFromCode
GRPC_HTTP = {1: 408, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409,
             11: 400, 12: 501, 13: 500, 14: 503, 16: 401}  # fmt: skip
HTTP_REASON = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               409: "Conflict", 500: "Internal Server Error", 501: "Not Implemented",
               503: "Service Unavailable", 504: "Gateway Timeout", 429: "Too Many Requests",
               408: "Request Timeout"}  # fmt: skip

CANCELED, UNKNOWN, INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS = 1, 2, 3, 5, 6
PERMISSION_DENIED, FAILED_PRECONDITION, UNIMPLEMENTED, UNAVAILABLE, UNAUTHENTICATED = (
    7,
    9,
    12,
    14,
    16,
)


class GrpcError(Exception):
    """An error as the gRPC service returns it; the gateway turns it into HTTP."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    @property
    def http_status(self) -> int:
        return GRPC_HTTP.get(self.code, 500)


def printable(text: str, limit: int = 200) -> str:
    """``text`` as printable ASCII (anything else as ``\\xNN``), cut at ``limit`` characters:
    a log line never carries raw bytes from the wire."""
    safe = "".join(c if c.isascii() and c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."


Route = tuple[str, re.Pattern[str], Callable[..., None], str]  # verb, regex, method, template


class Handler(http.server.BaseHTTPRequestHandler):
    """Base handler: subclasses fill ``routes`` with (verb, compiled path regex, method)."""

    protocol_version = "HTTP/1.1"
    server_version = "gitops-release-sandbox"
    routes: ClassVar[list[Route]] = []
    _body: bytes | None = None

    _refused: str = ""

    # the log: one line per request at most, printable ASCII only ------------------------
    def log_message(self, format: str, *args: Any) -> None:
        self._log(f"{self.address_string()} {printable(format % args)}", "info")

    def log_error(self, format: str, *args: Any) -> None:
        # http.server logs a refused request twice (its reason, then the request line): keep the
        # reason for the one line log_request writes.
        self._refused = printable(format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = int(code) if isinstance(code, int) else 0
        reason, self._refused = self._refused, ""
        raw = getattr(self, "raw_requestline", b"") or b""
        if raw.startswith(b"\x16\x03"):  # a TLS record: handshake, TLS 1.x
            self._log(
                f"{self.address_string()} sent a TLS handshake to this plain-HTTP port, answered"
                f" {status} (use http://, not https://)",
                "warning",
            )
            return
        line = f'{self.address_string()} "{printable(self.requestline)}" {code}'
        self._log(f"{line} ({reason})" if reason else line, "debug" if status < 400 else "info")

    def _log(self, line: str, level: str) -> None:
        log = getattr(self.server, "log", None)
        if callable(log):
            log(line, level)

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header on the sandbox's clock: the same (scaled) time as every timestamp
        in the answers, as a real server's Date and its objects' times share one clock."""
        sandbox = getattr(self.server, "sandbox", None)
        if timestamp is None and sandbox is not None:
            timestamp = sandbox.clock.now().timestamp()
        return super().date_time_string(timestamp)

    # request parsing ---------------------------------------------------------------------
    @property
    def url(self) -> urllib.parse.SplitResult:
        return urllib.parse.urlsplit(self.path)

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.url.query, keep_blank_values=True)

    def q(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def body_bytes(self) -> bytes:
        if self._body is None:
            length = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(length) if length else b""
        return self._body

    def json_body(self) -> Any:
        raw = self.body_bytes().strip()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as err:
            raise GrpcError(INVALID_ARGUMENT, f"invalid character in request body: {err}") from None

    def json_object(self) -> dict[str, Any]:
        """A JSON object body (``{}`` when empty), as the gateway decodes a request message."""
        body = self.json_body()
        if body is None:
            return {}
        if not isinstance(body, dict):
            kind = {list: "array", str: "string", bool: "bool"}.get(type(body), "number")
            raise GrpcError(
                INVALID_ARGUMENT, f"json: cannot unmarshal {kind} into Go value of type object"
            )
        return body

    # dispatch ----------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, verb: str) -> None:
        self._body = None
        path = urllib.parse.unquote(self.url.path)
        other_verb = False
        try:
            for route_verb, pattern, method, template in self.routes:
                match = pattern.fullmatch(path)
                if match is None:
                    continue
                if route_verb != verb:
                    other_verb = True
                    continue
                record = getattr(self.server, "record", None)
                if callable(record):
                    record(verb, template)
                if self.before(path):
                    method(self, **match.groupdict())
                return
            record = getattr(self.server, "record", None)
            if callable(record):
                record(verb, f"unmatched:{path}")
            self.unmatched(path, other_verb)
        except GrpcError as err:
            self.grpc_error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as err:  # a sandbox bug: say so like the server would (code 2, HTTP 500)
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.grpc_error(
                    GrpcError(UNKNOWN, f"sandbox internal error: {type(err).__name__}: {err}")
                )

    def before(self, path: str) -> bool:
        """Hook: auth and fault injection; return False when a reply was already sent."""
        return True

    def unmatched(self, path: str, other_verb: bool) -> None:
        # grpc-gateway DefaultOtherErrorHandler: plain text, not JSON
        if other_verb:
            self.text(405, "Method Not Allowed\n")
        else:
            self.text(404, "Not Found\n")

    # replies -----------------------------------------------------------------------------
    def send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.body_bytes()  # drain the request so keep-alive works
        self.send_response(status, HTTP_REASON.get(status))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        self.send(status, body, "application/json", headers)

    def text(self, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send(status, text.encode(), content_type)

    def grpc_error(self, err: GrpcError) -> None:
        """Argo CD's unary error body (DefaultHTTPError): error, code, message."""
        self.json(err.http_status, {"error": err.message, "code": err.code, "message": err.message})

    # streams -----------------------------------------------------------------------------
    def start_stream(self) -> bool:
        """Send stream headers; returns True for SSE framing."""
        self.body_bytes()
        sse = "text/event-stream" in (self.headers.get("Accept") or "")
        self.send_response(200, "OK")
        self.send_header("Content-Type", "text/event-stream" if sse else "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        return sse

    def chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def stream_message(self, payload: Any, sse: bool) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        self.chunk(b"data: " + body + b" \n\n" if sse else body + b"\n")

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def route(verb: str, pattern: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorator collecting routes; ``{name}`` segments become named groups."""

    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        regex = regex.replace("(?P<image>[^/]+)", "(?P<image>.+)")  # {image=**}: may hold slashes
        fn.__dict__.setdefault("_routes", []).append((verb, re.compile(regex), pattern))
        return fn

    return wrap


def collect_routes(cls: type) -> list[Route]:
    routes: list[Route] = []
    for klass in reversed(cls.__mro__):
        for value in vars(klass).values():
            for verb, pattern, template in getattr(value, "_routes", []):
                routes.append((verb, pattern, value, template))
    # literal paths first, so /applications/{name} does not swallow a static segment
    routes.sort(key=lambda r: r[1].pattern.count("(?P"))
    return routes
