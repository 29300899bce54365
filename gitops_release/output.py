"""Everything the tool prints goes through here.

- stdout carries results: human text, or one JSON document with ``--output json``.
- stderr carries progress and errors: live in a terminal, plain timestamped lines elsewhere (CI).
- ``NO_COLOR`` set to a non-empty value turns colour off (no-color.org: an empty one does
  not); so does a non-TTY stream.
- Every string printed passes :func:`redact`: secrets registered with :func:`register_secret`
  and credentials inside URLs (``https://user:token@host``) never reach a terminal or a log.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

_SECRETS: set[str] = set()
_documents = 0  # JSON documents printed on stdout in this run (the boundary prints one at most)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<cred>[^/@\s]+)@")
REDACTED = "***"


def reset_documents() -> None:
    global _documents
    _documents = 0


def documents_written() -> int:
    """How many JSON results this run has printed on stdout (the boundary adds an error
    document only when the command printed none)."""
    return _documents


def register_secret(value: str | None) -> None:
    """Remember a secret so that no output path can print it (ignores short or empty values)."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def forget_secrets() -> None:
    """Drop every registered secret (tests use this between cases)."""
    _SECRETS.clear()


SHORT_SHA = 12
"""How many hex digits of a commit every message, table and hint shows (full in JSON)."""


def short_sha(sha: str) -> str:
    """A commit as we show it everywhere: its first :data:`SHORT_SHA` hex digits."""
    return sha[:SHORT_SHA]


def redact(text: str) -> str:
    """Mask registered secrets and any ``user:password@`` part of URLs in ``text``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _URL_CREDENTIALS.sub(_mask_credentials, text)


def _mask_credentials(match: re.Match[str]) -> str:
    """``user:password@`` anywhere, and any user part of an http(s) URL (a token may stand there
    alone); ``ssh://git@host`` keeps its user, which is not a secret."""
    scheme, cred = match.group("scheme"), match.group("cred")
    if ":" in cred or scheme.lower() in ("http://", "https://"):
        return f"{scheme}{REDACTED}@"
    return match.group(0)


def redact_data(data: Any) -> Any:
    """:func:`redact` applied to every string inside nested lists and mappings."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, Mapping):
        return {k: redact_data(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(v) for v in data]
    return data


def color_enabled(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class Result(Protocol):
    """What a command returns: the same result as text for people and as JSON for scripts."""

    def text(self) -> str: ...

    def payload(self) -> Mapping[str, Any]: ...


@dataclass
class Output:
    """The printer a command is handed: ``json`` mode, colour and the two streams."""

    json_mode: bool = False
    quiet: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] | None = None

    @property
    def color(self) -> bool:
        return color_enabled(self.err, self.environ)

    @property
    def interactive(self) -> bool:
        return bool(getattr(self.err, "isatty", lambda: False)())

    def _style(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    # results (stdout) ---------------------------------------------------------------------
    def result(self, text: str) -> None:
        """A human-readable result line on stdout (suppressed in JSON mode)."""
        if not self.json_mode:
            print(redact(text), file=self.out, flush=True)

    def data(self, payload: Mapping[str, Any] | list[Any]) -> None:
        """The JSON result on stdout (only in JSON mode)."""
        global _documents
        if self.json_mode:
            print(
                json.dumps(redact_data(payload), indent=2, sort_keys=False),
                file=self.out,
                flush=True,
            )
            _documents += 1

    def emit(self, text: str, payload: Mapping[str, Any] | list[Any]) -> None:
        """Print ``text`` in human mode or ``payload`` as JSON: one call per result."""
        if self.json_mode:
            self.data(payload)
        else:
            self.result(text)

    def show(self, result: Result) -> None:
        """A command's result: its text, or its JSON with ``--output json``."""
        self.emit(result.text(), result.payload())

    # progress and diagnostics (stderr) ------------------------------------------------------
    def progress(self, text: str) -> None:
        """A progress line: plain and timestamped when not a terminal (CI logs)."""
        if self.quiet:
            return
        line = redact(text)
        if not self.interactive:
            line = f"{time.strftime('%H:%M:%S')} {line}"
        print(line, file=self.err, flush=True)

    def warn(self, text: str) -> None:
        print(self._style(f"warning: {redact(text)}", "33"), file=self.err, flush=True)

    def error(self, text: str) -> None:
        print(
            self._style(f"gitops-release: error: {redact(text)}", "31"), file=self.err, flush=True
        )
