"""The errors of the HTTP adapter (:mod:`gitops_release.argo.http`): every non-2xx answer becomes a
typed :class:`ApiError` (status, method, URL without credentials, the server's message), with
subclasses for 400/401/403/404/409/5xx; all are :class:`RemoteError` (exit 4)."""

from __future__ import annotations

import json

from gitops_release.errors import RemoteError, TimedOut


class ApiError(RemoteError):
    """A server answered with a non-2xx status (exit 4)."""

    def __init__(
        self,
        status: int,
        method: str,
        url: str,
        server_message: str,
        *,
        hint: str | None = None,
        what: str | None = None,
        grpc_code: int | None = None,
    ):
        self.status = status
        self.grpc_code = grpc_code
        """The gRPC code of an Argo CD error body (``{"code": 5, ...}``); None when the body is
        not one: an unknown route (grpc-gateway's plain-text 404), a proxy's page."""
        self.method = method
        self.url = url
        self.server_message = server_message
        subject = what or f"{method} {url}"
        super().__init__(f"{subject}: HTTP {status}: {server_message}", hint=hint)


class BadRequest(ApiError):
    """400: the server refused the request as invalid (also gRPC FailedPrecondition)."""


IN_PROGRESS = "another operation is already in progress"


class OperationInProgress(BadRequest):
    """Argo CD refused a sync because another operation is running: HTTP 400, gRPC 9
    (FailedPrecondition). Argo CD gives other FailedPrecondition refusals the same code ("Cannot
    sync to X: auto-sync currently set to Y"), so its message is the only mark: it is read here,
    once, at the adapter, and callers branch on this type."""


class Unauthorized(ApiError):
    """401: no token, an expired token or a wrong password."""


class Forbidden(ApiError):
    """403: permission denied (also a missing Argo CD app asked without a project)."""


class AppForbidden(Forbidden):
    """403 on one application, also when asked with its project: the account lacks permission.
    Still a :class:`Forbidden`, so a caller that knows which permission was needed (a resource
    action) can say so."""


class NotFound(ApiError):
    """404: no such object, or no such route (a wrong base path)."""


class Conflict(ApiError):
    """409: the object changed or already exists."""


class ServerError(ApiError):
    """5xx after the retries ran out."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}

_HINTS: dict[type[ApiError], str] = {
    Unauthorized: "check the token: ARGOCD_AUTH_TOKEN, --auth-token-file, or log in with --username and --password-stdin",
    Forbidden: "the account lacks permission for this call: check the RBAC policy of the project",
    ServerError: "the server failed; retry later or check its logs",
}


class AppNotFound(RemoteError):
    """The Argo CD Application does not exist (or is not visible to this account)."""


class NoLiveObject(RemoteError):
    """Argo CD knows the resource but returned no live manifest for it (not created yet)."""


class Unreachable(RemoteError):
    """The server could not be reached (connection refused, DNS, TLS, timeout)."""


class NameNotResolved(Unreachable):
    """The host name does not resolve (DNS): no retry can change that within a command."""

    def __init__(self, host: str, url: str, reason: str, *, hint: str | None = None):
        self.host = host
        super().__init__(f"cannot resolve host {host} of {url}: {reason}", hint=hint)


class TlsFailed(Unreachable):
    """The TLS handshake failed: a certificate not trusted, or a server that answers plain HTTP."""


class TooSlow(Unreachable):
    """The server accepted the connection but did not answer within the read timeout."""


class DeadlinePassed(TimedOut):
    """The command's ``--timeout`` ran out during (or before) a call: exit 6, not a remote error."""


class BadResponse(RemoteError):
    """The server answered 2xx but not with the JSON we expected (a proxy or login page)."""


def error_for(
    status: int,
    method: str,
    url: str,
    server_message: str,
    *,
    what: str | None = None,
    grpc_code: int | None = None,
) -> ApiError:
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    if cls is BadRequest and grpc_code == 9 and IN_PROGRESS in server_message:
        cls = OperationInProgress
    return cls(
        status, method, url, server_message, hint=_HINTS.get(cls), what=what, grpc_code=grpc_code
    )


def grpc_code(body: bytes) -> int | None:
    """The ``code`` of a grpc-gateway error body (``{"error", "code", "message"}``), else None."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def server_message(body: bytes, content_type: str) -> str:
    """The human part of an error body: Argo CD ``{"error","message"}``, dashboard ``{"message"}``."""
    text = body.decode("utf-8", "replace").strip()
    if "json" in content_type or text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            inner = data.get("error")
            if isinstance(inner, dict):  # a stream error chunk
                data = inner
            for key in ("message", "error"):
                value = data.get(key)
                if isinstance(value, str) and value:
                    return value
    if "html" in content_type or text.lower().startswith(("<!doctype", "<html")):
        return "an HTML page instead of an API answer (a proxy or login page? check the server URL)"
    first = text.splitlines()[0] if text else ""
    return first[:200] or "(empty body)"
