"""Argo CD authentication as the sandbox does it: the admin password and HS256 JWTs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Auth:
    """Admin login and HS256 JWTs shaped like Argo CD's (``iss: argocd``)."""

    def __init__(self, password: str) -> None:
        self.password = password
        self._key = secrets.token_bytes(32)

    def issue(self, subject: str = "admin") -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        now = int(time.time())
        claims = {
            "iss": "argocd",
            "sub": subject,
            "iat": now,
            "nbf": now,
            "jti": secrets.token_hex(16),
        }
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def check(self, token: str) -> str:
        """'' when valid, else the reason Argo CD gives."""
        parts = token.split(".")
        if len(parts) != 3:
            return "token contains an invalid number of segments"
        expected = hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(_b64(expected), parts[2]):
            return "token signature is invalid: signature is invalid"
        return ""

    def login(self, username: str, password: str) -> str | None:
        if username == "admin" and hmac.compare_digest(password, self.password):
            return self.issue(username)
        return None
