"""What a release leaves behind for the next job: the JSON release record (``--record``) and the
GitLab dotenv file (``--dotenv``), both written atomically and redacted.

The dotenv file is for ``artifacts: reports: dotenv``: plain ``KEY=value`` lines, no quotes (GitLab
reads the value up to the end of the line as is), one line per key, every key always present.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitops_release.errors import UsageError
from gitops_release.output import redact

DOTENV_KEYS = (
    "RELEASE_COMMIT",
    "PREVIOUS_TAG",
    "NEW_TAG",
    "PREVIEW_URL",
    "PROD_URL",
    "ROLLOUT_REVISION",
)


def dotenv_text(values: Mapping[str, object]) -> str:
    lines = []
    for key in DOTENV_KEYS:
        value = values.get(key)
        text = "" if value is None else redact(str(value))
        lines.append(f"{key}={' '.join(text.split())}")
    return "\n".join(lines) + "\n"


def check_writable(path: Path | None, flag: str) -> None:
    """Refuse an output file that cannot be written before anything is done (exit 2): found
    only after the push, the release would have landed and still exit 2 "nothing done"."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a directory", hint="name a file")
    parent = path.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(
            f"{flag} {path}: cannot write: {parent} is not a writable directory",
            hint="create the directory first, or name another file",
        )


def write_dotenv(path: Path, values: Mapping[str, object]) -> None:
    """Write the dotenv file atomically (a job reading it never sees half of it)."""
    _write_atomic(Path(path), dotenv_text(values), "--dotenv")


def write_dotenv_values(path: Path, values: Mapping[str, object]) -> None:
    """A dotenv file of exactly ``values``, in order (a release set: per-app keys)."""
    lines = []
    for key, value in values.items():
        text = "" if value is None else redact(str(value))
        lines.append(f"{key}={' '.join(text.split())}")
    _write_atomic(Path(path), "\n".join(lines) + "\n", "--dotenv")


def read_dotenv(text: str) -> dict[str, str]:
    """Parse ``KEY=value`` lines (what GitLab does with the report)."""
    found = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            found[key.strip()] = value
    return found


def write_record(path: Path, kind: str, payload: dict[str, Any]) -> None:
    """The JSON release record (``--record FILE``), written atomically, secrets redacted."""
    record = {"kind": kind, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **payload}
    _write_atomic(Path(path), redact(json.dumps(record, indent=2)) + "\n", "--record")


def _write_atomic(path: Path, text: str, flag: str) -> None:
    """Write through a temporary file and a rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        raise UsageError(f"{flag} {path}: cannot write: {err.strerror}") from None
