"""Read YAML: text from bytes (UTF-8, BOM kept), plain data for checks, and the one YAML error."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gitops_release.errors import UsageError


def load_all(text: str, *, source: str = "<string>") -> list[Any]:
    """Every document of ``text`` as plain data (dicts, lists, scalars); empty documents are None.

    Duplicate keys are an error here (Kubernetes would silently keep the last one).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    if c_loadable(text):
        fast = YAML(typ="safe", pure=False)
        fast.allow_duplicate_keys = False
        try:
            return list(fast.load_all(text))
        except Exception:  # the pure loader gives the verdict, and its words (file:line:col)
            pass
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


# Beyond this many levels libyaml (ruamel.yaml.clib) recurses on the C stack: 100,000 levels
# crash the interpreter, 10,000 do not. Deeper text goes to the pure parser (RecursionError).
C_MAX_DEPTH = 1000
_BLOCK_PREFIX = re.compile(r"^[ \t?:-]*", re.MULTILINE)


def c_loadable(text: str) -> bool:
    """True when libyaml (ruamel.yaml.clib, ~3-6x the pure parser) may read ``text``: it is
    installed and the text's nesting is provably shallow. A block collection nests only deeper
    in its line's indentation or behind an indicator (``- - x``, ``? k``, ``: v``): at most two
    levels per column of that prefix, plus one per flow bracket."""
    if _cparser() is None:
        return False
    flow = text.count("[") + text.count("{")
    if flow > C_MAX_DEPTH:
        return False
    deepest = max((m.end() - m.start() for m in _BLOCK_PREFIX.finditer(text)), default=0)
    return flow + 2 * deepest + 2 <= C_MAX_DEPTH


@lru_cache(maxsize=1)
def _cparser() -> Any:
    import ruamel.yaml.main

    return getattr(ruamel.yaml.main, "CParser", None)  # None: ruamel.yaml.clib not installed


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
