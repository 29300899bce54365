"""Read YAML: text from bytes (UTF-8, BOM kept), plain data for checks, and the one YAML error."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any

from gitops_release.errors import UsageError


def load_all(text: str, *, source: str = "<string>") -> list[Any]:
    """Every document of ``text`` as plain data (dicts, lists, scalars); empty documents are None.

    Duplicate keys are an error here (Kubernetes would silently keep the last one).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        return list(yaml.load_all(text))
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = (err.problem or err.context or "invalid YAML").strip()
        raise YamlError(f"{where}: {problem}") from None
    except YAMLError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "invalid YAML"
        raise YamlError(f"{source}: {first}") from None
    except RecursionError:
        raise YamlError(f"{source}: YAML nested too deeply to read safely") from None


@dataclass(frozen=True)
class SourceText:
    """A file's text without its BOM; ``encode`` gives bytes back with the BOM as found.
    Line endings (LF, CRLF, mixed) stay in ``text`` untouched."""

    text: str
    bom: bool = False

    def encode(self, text: str | None = None) -> bytes:
        body = (self.text if text is None else text).encode("utf-8")
        return codecs.BOM_UTF8 + body if self.bom else body


def read_text(data: bytes, *, source: str) -> SourceText:
    """Decode a YAML file as UTF-8 (with or without BOM); anything else is a YamlError."""
    if data.startswith(codecs.BOM_UTF8):
        return SourceText(_decode(data[3:], source, 3), bom=True)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise YamlError(
            f"{source}: file is UTF-16 or UTF-32, not UTF-8", hint="convert it to UTF-8"
        )
    return SourceText(_decode(data, source, 0))


def _decode(data: bytes, source: str, offset: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise YamlError(
            f"{source}:{line}: not UTF-8 (byte 0x{data[err.start]:02x} at offset {err.start + offset})",
            hint="convert the file to UTF-8; nothing was changed",
        ) from None


class YamlError(UsageError):
    """YAML that cannot be read or edited safely (exit 2); names the file, line and column."""
