"""The Registry HTTP API v2 (the OCI distribution spec), through the one HTTP owner.

Calls: ``HEAD /v2/<name>/manifests/<ref>`` (does it exist, and its digest), ``GET`` of the same
(the bytes, when the registry sends no ``Docker-Content-Digest``), ``GET /v2/<name>/tags/list``
following ``Link: <...>; rel="next"`` pages.

Auth: the first call goes out anonymously. A ``401`` names the scheme in ``WWW-Authenticate``:
``Basic`` is answered with the credentials; ``Bearer realm=...,service=...,scope=...`` with a token
request to the realm (with the credentials when there are some, anonymous otherwise), then the call
again with ``Authorization: Bearer``. Tokens and passwords are registered with the redaction filter.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from gitops_release.argo.http import (
    Client,
    Forbidden,
    Reply,
    TlsFailed,
    Unauthorized,
    Unreachable,
)
from gitops_release.errors import RemoteError
from gitops_release.output import register_secret
from gitops_release.registry.credentials import Credentials, Lookup
from gitops_release.registry.names import Location, is_loopback

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
ACCEPT = ", ".join(MANIFEST_TYPES)
_PARAM = re.compile(r'(\w+)="([^"]*)"')
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
MAX_PAGES = 200


class RegistryRefused(RemoteError):
    """401/403 from the registry after authenticating (exit 4)."""


class RegistryUnreachable(RemoteError):
    """No answer from the registry: connection, DNS or TLS (exit 4)."""


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str


@dataclass
class RegistryClient:
    """One registry. ``verify`` is the TLS setting (``--ca-bundle`` path, or True)."""

    location: Location
    lookup: Lookup = field(default_factory=lambda: Lookup(None))
    verify: bool | str = True
    retries: int = 2
    page_size: int = 100
    """Tags per ``tags/list`` page (Docker Hub and GitLab cap it at 100 anyway)."""
    _http: Client | None = None
    _auth: dict[str, str] = field(default_factory=dict)
    """Authorization header per scope, once obtained."""

    @property
    def credentials(self) -> Credentials | None:
        return self.lookup.credentials

    def _client(self) -> Client:
        if self._http is None:
            loc = self.location
            if not loc.insecure:
                self._http = self._new("https", self.verify)
            elif is_loopback(loc.registry):
                self._http = self._pick_scheme(("http", "https"))
            else:
                self._http = self._pick_scheme(("https", "http"))
        return self._http

    def _new(self, scheme: str, verify: bool | str = False) -> Client:
        return Client(
            f"{scheme}://{self.location.host}",
            name=f"registry {self.location.registry}",
            verify=verify if scheme == "https" else True,
            retries=self.retries,
            read_timeout=20.0,
        )

    def _pick_scheme(self, order: tuple[str, str]) -> Client:
        """An insecure registry: the scheme whose ``GET /v2/`` a registry answers. Docker tries
        HTTPS without verification, then plain HTTP; a loopback registry is asked over plain HTTP
        first, since that is what runs there (a TLS handshake refused first costs a new
        connection and a TLS context). A plain-HTTP answer without the registry's
        ``Docker-Distribution-API-Version`` header (Go's TLS server answers plain HTTP with
        ``400``) is not a registry: the other scheme is tried."""
        first = self._new(order[0])
        try:
            reply = first.exchange("GET", "/v2/", accept=frozenset({400, 401, 403, 404}))
            if reply.status != 400 or "docker-distribution-api-version" in reply.headers:
                return first
        except Unreachable:
            pass
        first.close()
        return self._new(order[1])

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    # -- calls -------------------------------------------------------------------------------
    def manifest(self, reference: str) -> Manifest | None:
        """``HEAD`` the manifest: its digest and media type, or None when the registry has none."""
        reply = self._call("HEAD", f"/manifests/{reference}", {"Accept": ACCEPT}, missing_ok=True)
        if reply is None:
            return None
        digest = reply.headers.get("docker-content-digest", "")
        media = reply.headers.get("content-type", "").split(";")[0].strip()
        if not digest:
            body = self._call("GET", f"/manifests/{reference}", {"Accept": ACCEPT})
            assert body is not None
            digest = "sha256:" + hashlib.sha256(body.content).hexdigest()
        return Manifest(digest=digest, media_type=media)

    def tags(self) -> list[str]:
        """Every tag of the repository (``Link`` pagination followed), [] when it has none."""
        tags: list[str] = []
        path: str | None = "/tags/list?" + urlencode({"n": self.page_size})
        for _ in range(MAX_PAGES):
            if path is None:
                break
            reply = self._call("GET", path, {"Accept": "application/json"}, missing_ok=True)
            if reply is None:
                return tags
            import json

            try:
                data: Any = json.loads(reply.content or b"{}")
            except ValueError:
                data = {}
            tags += [t for t in (data.get("tags") or []) if isinstance(t, str)]
            match = _NEXT.search(reply.headers.get("link", ""))
            path = match.group(1) if match else None
            if path and path.startswith(f"/v2/{self.location.repository}/"):
                path = path.removeprefix(f"/v2/{self.location.repository}")
        return tags

    # -- plumbing ----------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        if path.startswith("/v2/") or "://" in path:
            return path
        return f"/v2/{self.location.repository}{path}"

    def _call(
        self, method: str, path: str, headers: dict[str, str], *, missing_ok: bool = False
    ) -> Reply | None:
        scope = f"repository:{self.location.repository}:pull"
        client = self._client()
        url = self._url(path)
        accept = frozenset({401, 403, 404})
        try:
            reply = client.exchange(
                method, url, headers=self._with_auth(scope, headers), accept=accept
            )
            if reply.status == 401 and scope not in self._auth:
                self._authenticate(reply, scope)
                reply = client.exchange(
                    method, url, headers=self._with_auth(scope, headers), accept=accept
                )
        except TlsFailed as err:
            raise RegistryUnreachable(err.message, hint=self._tls_hint()) from None
        except Unreachable as err:
            raise RegistryUnreachable(err.message, hint=self._unreachable_hint()) from None
        except (Unauthorized, Forbidden) as err:  # the token endpoint refused
            raise self._refused(err.status, err.server_message) from None
        if reply.status in (401, 403):
            raise self._refused(reply.status, _errors(reply))
        if reply.status == 404:
            if missing_ok:
                return None
            raise RemoteError(f"registry {self.location.registry}: {method} {reply.url}: HTTP 404")
        return reply

    def _with_auth(self, scope: str, headers: dict[str, str]) -> dict[str, str]:
        auth = self._auth.get(scope)
        return {**headers, "Authorization": auth} if auth else headers

    def _authenticate(self, reply: Reply, scope: str) -> None:
        challenge = reply.headers.get("www-authenticate", "")
        scheme = challenge.split(" ", 1)[0].lower()
        creds = self.credentials
        if scheme == "basic":
            if creds is None:
                raise self._refused(401, "the registry asks for a user and password")
            self._auth[scope] = _basic(creds)
            return
        if scheme != "bearer":
            raise self._refused(401, f"unsupported authentication scheme {challenge[:40]!r}")
        params = dict(_PARAM.findall(challenge))
        realm = params.get("realm", "")
        if not realm:
            raise self._refused(401, "Bearer challenge without a realm")
        query = {"service": params.get("service", ""), "scope": params.get("scope") or scope}
        url = f"{realm}{'&' if '?' in realm else '?'}{urlencode({k: v for k, v in query.items() if v})}"
        headers = {"Accept": "application/json"}
        if creds is not None:
            headers["Authorization"] = _basic(creds)
        answer = self._client().exchange("GET", url, headers=headers, verify=self.verify)
        import json

        try:
            data = json.loads(answer.content)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise self._refused(401, f"the token service at {answer.url} sent no token")
        register_secret(token)
        self._auth[scope] = f"Bearer {token}"

    def _refused(self, status: int, why: str) -> RegistryRefused:
        loc = self.location
        creds = self.credentials
        who = f"credentials from {creds.source}" if creds else "no credentials"
        hint = (
            "check the user and password (GITOPS_RELEASE_REGISTRY_USER / _PASSWORD, CI_REGISTRY_*, "
            "or docker login) and that they may pull this repository"
        )
        if self.lookup.note:
            hint = self.lookup.note
        return RegistryRefused(
            f"registry {loc.host} refused to let {who} read {loc.repository}: HTTP {status}"
            + (f": {why}" if why else ""),
            hint=hint + "; or --verify-image warn|off",
        )

    def _unreachable_hint(self) -> str:
        return (
            "check the registry host, the network and any proxy (HTTPS_PROXY, NO_PROXY); "
            "on an air-gapped runner --verify-image warn|off"
        )

    def _tls_hint(self) -> str:
        return (
            "for a private CA pass --ca-bundle FILE (a PEM bundle with the CA that signed its "
            f"certificate); to skip verification, or for a registry without TLS, "
            f"--insecure-registry {self.location.registry}; or --verify-image warn|off"
        )


def _basic(creds: Credentials) -> str:
    value = base64.b64encode(f"{creds.user}:{creds.password}".encode()).decode()
    register_secret(value)
    return f"Basic {value}"


def _errors(reply: Reply) -> str:
    import json

    try:
        errors = json.loads(reply.content).get("errors") or []
        return "; ".join(str(e.get("message", e)) for e in errors)[:200]
    except (ValueError, AttributeError):
        return ""
