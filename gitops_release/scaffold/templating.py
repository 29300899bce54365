"""Render the manifest templates: plain YAML with ``${name}`` placeholders (pure).

Values are inserted so that none can change the YAML structure, whatever it contains:

1. each rendered scalar is written plain only when that is unambiguous (and would still be a string
   for a YAML 1.1 reader such as Kubernetes' go-yaml: ``on``, ``no``, ``1e3`` are quoted), otherwise
   double-quoted with escapes; placeholders in comments lose line breaks and unprintable characters;
2. the result is parsed and compared, type for type, with the template parsed as it is and the
   values put in its scalars. Any difference (a value that broke out of its scalar, a placeholder
   in a key) is refused.

Template rules (also in ``templates/app/README.md``): a line whose whole value is an optional
placeholder left unset is dropped; ``# @when NAME`` at the end of a line keeps that line and the
block below it only when the boolean ``NAME`` is true.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from gitops_release.errors import UsageError
from gitops_release.yaml.read import YamlError, load_all

Value = str | int | bool | None

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHEN = re.compile(r"@when\s+([A-Za-z_][A-Za-z0-9_]*)")
_LEAD = re.compile(r"^(?P<lead>[ ]*(?:-[ ]+)*)(?P<key>[A-Za-z0-9_./-]+:(?:[ ]+|$))?")
_PLAIN_SAFE = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@:+=,()`-]*$")
# Plain scalars that YAML 1.1 or 1.2 would not read as a string, or might not.
_SPECIAL = re.compile(
    r"^(?:~|null|y|yes|n|no|true|false|on|off|[-+.]?[0-9].*|[-+]?\.(?:inf|nan))$", re.IGNORECASE
)


class TemplateError(UsageError):
    """A template that cannot be rendered safely (exit 2); names the file and line."""


def _escape(char: str) -> str:
    if char in ('"', "\\"):
        return "\\" + char
    if " " <= char <= "~":
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def quote_scalar(text: str) -> str:
    """``text`` as a YAML scalar that reads back as exactly this string.

    Plain when unambiguous, else double-quoted with everything outside printable ASCII escaped
    (YAML's ``\\uXXXX``/``\\UXXXXXXXX``; JSON's surrogate pairs would not read back in YAML).
    """
    if _PLAIN_SAFE.match(text) and not _SPECIAL.match(text) and not text.endswith(":"):
        return text
    return '"' + "".join(_escape(c) for c in text) + '"'


def _as_text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _split_value(rest: str) -> tuple[str, str]:
    """``rest`` of a line (after the key) -> (value, comment including its leading space)."""
    if rest[:1] in ("'", '"'):
        quote, i = rest[0], 1
        while i < len(rest):
            if quote == '"' and rest[i] == "\\":
                i += 2
                continue
            if rest[i] == quote:
                if quote == "'" and rest[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                break
            i += 1
        end = rest.find("#", i + 1)
    else:
        end = 0 if rest.startswith("#") else rest.find(" #")
    if end < 0:
        return rest.rstrip(), ""
    value = rest[:end].rstrip()
    return value, rest[len(value) :]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            loaded = json.loads(value)
        except ValueError:
            return value[1:-1]
        return loaded if isinstance(loaded, str) else value[1:-1]
    return value


class _Template:
    def __init__(self, text: str, values: Mapping[str, Value], source: str):
        self.text = text
        self.values = values
        self.source = source

    def lookup(self, name: str, number: int) -> Value:
        if name not in self.values:
            raise TemplateError(
                f"{self.source}:{number}: unknown placeholder ${{{name}}}",
                hint=f"known: {', '.join(sorted(self.values))}",
            )
        return self.values[name]

    def _comment(self, comment: str, number: int) -> str:
        def put(match: re.Match[str]) -> str:
            words = _as_text(self.lookup(match.group(1), number)).split()  # no line breaks
            return "".join(c if c.isprintable() else "?" for c in " ".join(words))

        return _PLACEHOLDER.sub(put, comment)

    def kept_lines(self) -> list[tuple[int, str, str, str]]:
        """(line number, lead+key, value, comment) of every line the ``@when`` markers keep."""
        kept: list[tuple[int, str, str, str]] = []
        skip_indent: int | None = None
        for number, line in enumerate(self.text.splitlines(), 1):
            indent = len(line) - len(line.lstrip(" "))
            if skip_indent is not None:
                if not line.strip() or indent > skip_indent:
                    continue
                skip_indent = None
            match = _LEAD.match(line)
            assert match is not None  # the pattern matches every line
            head = match.group(0)
            value, comment = _split_value(line[len(head) :])
            when = _WHEN.search(comment)
            if when:
                flag = self.lookup(when.group(1), number)
                if not isinstance(flag, bool):
                    raise TemplateError(
                        f"{self.source}:{number}: @when {when.group(1)} needs a true/false value"
                    )
                comment = comment[: when.start()] + comment[when.end() :]
                if comment.strip() == "#":
                    comment = ""
                if not flag:
                    skip_indent = indent
                    continue
            kept.append((number, head, value, comment.rstrip()))
        return kept

    def render_line(self, number: int, head: str, value: str) -> str | None:
        """The rendered value part, or None when the line is dropped (unset optional value)."""
        names = _PLACEHOLDER.findall(value)
        if not names:
            return value
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            item = self.lookup(whole.group(1), number)
            if item is None:
                return None
            if isinstance(item, (bool, int)):
                return _as_text(item)
            return quote_scalar(item)

        def put(match: re.Match[str]) -> str:
            item = self.lookup(match.group(1), number)
            if item is None:
                raise TemplateError(
                    f"{self.source}:{number}: optional ${{{match.group(1)}}} is unset and "
                    "is only part of a value",
                    hint="give the value, or put the placeholder alone on its line",
                )
            return _as_text(item)

        return quote_scalar(_PLACEHOLDER.sub(put, _unquote(value)))

    def render(self) -> tuple[str, str]:
        """(rendered text, the template text with the same lines kept) for the check."""
        out: list[str] = []
        reference: list[str] = []
        for number, head, value, comment in self.kept_lines():
            rendered = self.render_line(number, head, value)
            if rendered is None:
                continue
            reference.append(f"{head}{value}")
            line = f"{head}{rendered}{self._comment(comment, number)}"
            out.append(line.rstrip() if line.strip() else "")
        return "\n".join(out) + "\n", "\n".join(reference) + "\n"

    def fill(self, node: Any) -> Any:
        """The template's parsed data with the values put in (what the rendering must equal)."""
        if isinstance(node, dict):
            return {self.fill(k): self.fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.fill(v) for v in node]
        if isinstance(node, str):
            whole = _PLACEHOLDER.fullmatch(node)
            if whole and whole.group(1) in self.values:
                return self.values[whole.group(1)]
            return _PLACEHOLDER.sub(lambda m: _as_text(self.values.get(m.group(1))), node)
        return node


def _first_difference(expected: Any, actual: Any, where: str = "") -> str | None:
    if type(expected) is not type(actual):
        return f"{where or 'document'}: expected {expected!r}, got {actual!r}"
    if isinstance(expected, dict):
        if list(expected) != list(actual):
            return f"{where or 'document'}: keys {list(actual)} instead of {list(expected)}"
        for key in expected:
            found = _first_difference(expected[key], actual[key], f"{where}.{key}".lstrip("."))
            if found:
                return found
        return None
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return f"{where}: {len(actual)} items instead of {len(expected)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found = _first_difference(e, a, f"{where}[{i}]")
            if found:
                return found
        return None
    return None if expected == actual else f"{where}: expected {expected!r}, got {actual!r}"


def render(text: str, values: Mapping[str, Value], *, source: str) -> str:
    """Render one template; raises :class:`TemplateError` rather than return unsafe YAML."""
    template = _Template(text, values, source)
    rendered, reference_text = template.render()
    try:
        reference = [template.fill(doc) for doc in load_all(reference_text, source=source)]
    except YamlError as err:
        raise TemplateError(f"template is not valid YAML: {err}") from None
    try:
        actual = load_all(rendered, source=f"{source} (rendered)")
    except YamlError as err:
        raise TemplateError(f"rendering does not parse: {err}") from None
    difference = _first_difference(reference, actual)
    if difference:
        raise TemplateError(
            f"{source}: a value changed the YAML structure at {difference}",
            hint="placeholders may only stand in values, not keys",
        )
    return rendered
