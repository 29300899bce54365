"""Render new scalar tokens in the style of the old ones, and verify a splice (part of the YAML
owner with ``yaml.edit`` and ``yaml.spans``; nothing else imports ruamel).

Verification re-composes the new text and walks the old and new node trees side by side:
same documents, same shapes, same keys, same values and resolved types everywhere except the
edited scalars, which must hold exactly the intended strings. It also checks that the bytes
outside the spliced spans are identical. Aliases are never expanded (each node pair is visited
once), so this stays linear in the size of the text.

Since every byte outside the spans is unchanged, only the text around the edits is re-read: the
deepest block-mapping entry holding them that reads alone (``image: ...`` in a container, its
indentation cut), else their top-level entry, else their whole document. A region that does not
read alone (an alias to an anchor outside it, a comment further left) is simply widened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitops_release.yaml.read import YamlError
from gitops_release.yaml.regions import Dedented, dedent, nested_entries, root_entries
from gitops_release.yaml.sites import Span
from gitops_release.yaml.spans import STR_TAG, compose_documents

_PLAIN_SAFE = re.compile(r"^[\w.:/@+=~-]+$")
_PROPS = re.compile(r"(?:(?:&[^\s]+|![^\s]*)[ \t]+)+")


@dataclass(frozen=True)
class FieldEdit:
    """One scalar to replace: ``token`` (as written, quotes included) replaces ``span``."""

    role: str
    path: str
    span: Span
    value: str
    token: str
    new_key: str | None = None
    """Set when the key itself is added (``span`` is then empty, at the mapping's slot)."""
    value_offset: int = 0
    """Where the value starts inside ``token`` (1 after an empty ``key:``; after ``key: ``)."""

    @property
    def position(self) -> int:
        """A position inside the mapping being edited (an added line starts right after the
        mapping's last line, which may be where the next entry or document began)."""
        return self.span.start - 1 if self.new_key else self.span.start


@lru_cache(maxsize=2)
def _resolvers() -> tuple[object, object]:
    from ruamel.yaml.resolver import VersionedResolver

    return VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2))


def resolves_to_string(value: str) -> bool:
    """True when ``value`` written plain stays a string under YAML 1.1 (Kubernetes, Helm:
    ``yes``, ``010``, ``1:20`` are not strings there) and YAML 1.2 (``1.20``, ``true``, ``~``)."""
    for resolver in _resolvers():
        tag = resolver.resolve(ScalarNode, value, (True, False))  # type: ignore[attr-defined]
        if str(tag) != STR_TAG:
            return False
    return True


def plain_ok(value: str, *, in_flow: bool) -> bool:
    """Can ``value`` be written as a plain scalar and read back as the same string?"""
    if not value or not _PLAIN_SAFE.match(value) or value[0] in "-?:@=~" or value[-1] == ":":
        return False
    if in_flow and any(c in value for c in ",[]{}"):
        return False
    return resolves_to_string(value)


def double_quoted(value: str) -> str:
    out = []
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F or 0x80 <= ord(char) < 0xA0:
            out.append(f"\\x{ord(char):02x}")
        elif char in "\u2028\u2029\ufeff":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def render(span: Span, value: str) -> str:
    """The token that writes ``value`` where ``span`` is, keeping the quote style; a plain
    value that would change type (``1.20``, ``010``, ``true``) or cannot be plain is quoted."""
    if span.style == "'" and "\n" not in value and all(c.isprintable() for c in value):
        return "'" + value.replace("'", "''") + "'"
    if span.style == '"' or span.style == "'":
        return double_quoted(value)
    token = value if plain_ok(value, in_flow=span.in_flow) else double_quoted(value)
    if span.style == "null":
        return " " + token
    return token


def verify(old_text: str, new_text: str, edits: list[FieldEdit], *, source: str) -> None:
    """Raise YamlError unless ``new_text`` is ``old_text`` with exactly ``edits`` applied.

    Bytes: everything outside the spans is compared. Data: each document holding an edit is
    re-composed from the new text and compared node by node with the old one. Documents
    without an edit are byte-identical, and their boundaries cannot move: every token is one
    line, and its document must still compose as exactly one document."""
    expected: dict[int, FieldEdit] = {}
    shifts: list[tuple[int, int]] = []  # (old position after an edit, total shift from there)
    pos = delta = 0
    for edit in edits:
        start, end = edit.span.start, edit.span.end
        if old_text[pos:start] != new_text[pos + delta : start + delta]:
            raise _failed(source, edit, "bytes outside the edited spans changed")
        body = edit.token.strip("\r\n") if edit.new_key else edit.token  # an added line
        if "\n" in body or "\r" in body:
            raise _failed(source, edit, "a new value must be one line")
        expected[start + delta + edit.value_offset] = edit
        delta += len(edit.token) - (end - start)
        shifts.append((end, delta))
        pos = end
    if old_text[pos:] != new_text[pos + delta :] or len(new_text) != len(old_text) + delta:
        raise _failed(source, edits[-1], "bytes after the last edit changed")

    def moved(old_pos: int) -> int:
        """Where an old position (outside every span) is in the new text."""
        shift = 0
        for after, total in shifts:
            if old_pos >= after:
                shift = total
        return old_pos + shift

    docs = compose_documents(old_text, source=source)
    found: set[int] = set()
    begin = 0
    for number, doc in enumerate(docs):
        end = len(old_text) if number == len(docs) - 1 else doc.end
        touched = [e for e in edits if begin <= e.position < end]
        if touched:
            entries = root_entries(doc.root, end)
            checked = bool(entries)
            for entry_begin, entry_end, key, value in entries:
                inside = [e.position for e in touched if entry_begin <= e.position < entry_end]
                if checked and inside:
                    # the deepest entry that reads alone first, then wider ones, then the root entry
                    nested = nested_entries(old_text, value, inside)
                    candidates = [*reversed(nested), (entry_begin, entry_end, key, value, 0)]
                    checked = any(
                        _check_region(
                            (k, v), new_text, (moved(b), moved(e)), expected, found, source, indent
                        )
                        for b, e, k, v, indent in candidates
                    )
            if not checked:
                region = (moved(begin), moved(end))
                if not _check_region(doc.root, new_text, region, expected, found, source):
                    raise _failed(source, touched[0], "a document boundary moved")
        begin = doc.end
    missing = [e for start, e in expected.items() if start not in found]
    if missing:
        raise _failed(source, missing[0], "the edited value is not where it was expected")


def _check_region(
    old: Node | tuple[Node, Node] | None,
    new_text: str,
    region: tuple[int, int],
    expected: dict[int, FieldEdit],
    found: set[int],
    source: str,
    indent: int = 0,
) -> bool:
    """Compose ``new_text[begin:end]`` and compare it with ``old``: a whole document, or one
    (key, value) entry of a block mapping (a nested one with its key's ``indent`` cut from its
    lines). For an entry, False when the region cannot be read on its own (an alias to an
    anchor in another entry, say): the caller reads more."""
    begin, end = region
    text = new_text[begin:end]
    local = {start - begin: e for start, e in expected.items() if begin <= start < end}
    cut: Dedented | None = None
    if indent:
        cut = dedent(text, indent)
        moved = {at: cut.inward(at) for at in local} if cut is not None else {}
        if cut is None or None in moved.values():
            return False
        text = cut.text
        local = {moved[at]: e for at, e in local.items()}  # type: ignore[misc]
    entry = isinstance(old, tuple)
    try:
        again = compose_documents(text, source=source)
    except YamlError as err:
        if entry or not local:
            return False
        edit = next(iter(local.values()))
        raise _failed(source, edit, f"the result does not parse: {err.message}") from None
    if len(again) != 1:
        return False
    root = again[0].root
    hits: set[int] = set()
    if isinstance(old, tuple):
        if not isinstance(root, MappingNode) or len(root.value) != 1:
            return False
        _compare(old[0], root.value[0][0], text, local, hits, source)
        _compare(old[1], root.value[0][1], text, local, hits, source)
    else:
        _compare(old, root, text, local, hits, source)
    found |= {(cut.outward(start) if cut else start) + begin for start in hits}
    return True


def _compare(
    old: Node | None,
    new: Node | None,
    new_text: str,
    expected: dict[int, FieldEdit],
    found: set[int],
    source: str,
) -> None:
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Node | None, Node | None]] = [(old, new)]
    while stack:
        a, b = stack.pop()
        if a is None or b is None:
            if a is not b:
                raise YamlError(f"{source}: edit check failed: a document changed shape")
            continue
        if (id(a), id(b)) in seen:
            continue
        seen.add((id(a), id(b)))
        if type(a) is not type(b):
            raise _changed(source, b, "a node changed kind")
        if isinstance(a, ScalarNode):
            start = _value_start(new_text, b)
            edit = expected.get(start)
            if edit is not None:
                found.add(start)
                if b.value != edit.value or str(b.tag) != STR_TAG:
                    raise _failed(
                        source, edit, f"re-reads as {b.value!r} ({b.tag}), not {edit.value!r}"
                    )
            elif a.value != b.value or str(a.tag) != str(b.tag):
                raise _changed(source, b, f"{a.value!r} became {b.value!r}")
        elif isinstance(a, MappingNode):
            pairs = b.value
            if len(pairs) > len(a.value):  # keys the edit added: check them, set them aside
                added = [(k, v) for k, v in pairs if _added(k, v, new_text, expected)]
                for _, value in added:
                    stack.append((value, value))  # a scalar compared with itself: value check
                pairs = [p for p in pairs if p not in added]
            if len(a.value) != len(pairs) or str(a.tag) != str(b.tag):
                raise _changed(source, b, "a mapping changed size or type")
            for (ka, va), (kb, vb) in zip(a.value, pairs, strict=True):
                stack += [(ka, kb), (va, vb)]
        elif isinstance(a, SequenceNode):
            if len(a.value) != len(b.value) or str(a.tag) != str(b.tag):
                raise _changed(source, b, "a sequence changed size or type")
            stack += list(zip(a.value, b.value, strict=True))


def _added(key: Node, value: Node, new_text: str, expected: dict[int, FieldEdit]) -> bool:
    """Is (key, value) a key the edit added (at the expected place, with the expected name)?"""
    if not isinstance(key, ScalarNode) or not isinstance(value, ScalarNode):
        return False
    edit = expected.get(_value_start(new_text, value))
    return edit is not None and edit.new_key is not None and key.value == edit.new_key


def _value_start(text: str, node: Node) -> int:
    start: int = node.start_mark.index
    if text[start : start + 1] in ("&", "!"):
        props = _PROPS.match(text, start)
        if props:
            return props.end()
    return start


def _failed(source: str, edit: FieldEdit, why: str) -> YamlError:
    return YamlError(
        f"{source}:{edit.span.line}:{edit.span.column}: edit of {edit.path} failed its check: {why}",
        hint="nothing was written; please report this file",
    )


def _changed(source: str, node: Node, why: str) -> YamlError:
    mark = node.start_mark
    return YamlError(
        f"{source}:{mark.line + 1}:{mark.column + 1}: edit check failed: {why}",
        hint="nothing was written; please report this file",
    )
