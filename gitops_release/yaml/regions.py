"""Regions of a YAML text that read alone: what ``yaml.verify`` re-reads after a splice instead
of the whole document (part of the YAML owner; nothing else imports ruamel).

A top-level entry of a block mapping whose keys are plain and at column 0 is a YAML document on
its own. So is an entry deeper down, from its key to the next key of its mapping, once its key's
indentation is cut from every line but its first: indentation is relative in YAML (block scalars
keep what is past their own indentation, other scalars fold it away).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


def root_entries(root: Node | None, end: int) -> list[tuple[int, int, Node, Node]]:
    """Regions of the top-level entries of a block mapping whose keys are plain scalars at
    column 0: each region is a YAML document on its own, so a big values file is re-read one
    entry at a time. Empty when the document has another shape (it is then re-read whole)."""
    if not isinstance(root, MappingNode) or root.flow_style or len(root.value) < 2:
        return []
    keys = [key for key, _ in root.value]
    if any(not isinstance(k, ScalarNode) or k.start_mark.column != 0 or k.style for k in keys):
        return []
    starts = [k.start_mark.index for k in keys] + [end]
    return [(starts[i], starts[i + 1], k, v) for i, (k, v) in enumerate(root.value)]


def nested_entries(
    text: str, value: Node, positions: list[int]
) -> list[tuple[int, int, Node, Node, int]]:
    """Entries below a root entry that hold every one of ``positions``, outermost first, each
    with its key's column: entries of block mappings whose keys are plain scalars, each key
    alone on its line but for its indentation (and the ``- `` of a sequence item), ending
    where the next key begins (the last entry of a mapping has no such end: it is never one,
    but the entries inside it can be)."""
    chain: list[tuple[int, int, Node, Node, int]] = []
    low, high = min(positions), max(positions)
    node: Node | None = value
    while node is not None and not getattr(node, "flow_style", False):
        if isinstance(node, SequenceNode):
            starts = [item.start_mark.index for item in node.value]
            index = bisect_right(starts, low) - 1
            if index < 0 or (index + 1 < len(starts) and high >= starts[index + 1]):
                break
            node = node.value[index]
            continue
        if not isinstance(node, MappingNode) or not node.value:
            break
        keys = [key for key, _ in node.value]
        column = keys[0].start_mark.column
        for key in keys:
            mark = key.start_mark
            if not isinstance(key, ScalarNode) or key.style or mark.column != column:
                return chain
            if text[mark.index - column : mark.index].strip(" -"):
                return chain
        starts = [key.start_mark.index for key in keys]
        index = bisect_right(starts, low) - 1
        if index < 0 or (index + 1 < len(starts) and high >= starts[index + 1]):
            break
        if index + 1 < len(starts):
            chain.append(
                (starts[index], starts[index + 1], keys[index], node.value[index][1], column)
            )
        node = node.value[index][1]
    return chain


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


@dataclass(frozen=True)
class Dedented:
    """A region with ``indent`` columns cut from every line but its first: ``text``, and where
    each kept line starts in the region (``kept``) and in ``text`` (``starts``)."""

    text: str
    kept: list[int]
    starts: list[int]
    ends: list[int]

    def inward(self, at: int) -> int | None:
        """A position of the region in ``text`` (None when it was cut)."""
        line = bisect_right(self.kept, at) - 1
        if line < 0 or at >= self.ends[line]:
            return None
        return self.starts[line] + at - self.kept[line]

    def outward(self, at: int) -> int:
        line = bisect_right(self.starts, at) - 1
        return self.kept[line] + at - self.starts[line]


def dedent(text: str, indent: int) -> Dedented | None:
    """Cut ``indent`` spaces from each line after the first (all the spaces of a line of
    spaces). None when a line has less, or other characters there (a tab, a comment further
    left), or when the text holds a line break other than \\r and \\n: the caller then reads a
    wider region. Indentation is relative in YAML (block scalars keep what is past their own
    indentation, other scalars fold it away), so the cut text reads as the same nodes."""
    if any(char in text for char in "\x85\u2028\u2029"):
        return None
    out: list[str] = []
    kept: list[int] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = size = 0
    for number, line in enumerate(_LINE.findall(text)):
        body = line.rstrip("\r\n")
        cut = 0
        if number:
            if body[:indent] == " " * indent:
                cut = indent
            elif body.strip(" "):
                return None
            else:
                cut = len(body)
        kept.append(pos + cut)
        ends.append(pos + len(line))
        starts.append(size)
        out.append(line[cut:])
        pos += len(line)
        size += len(line) - cut
    return Dedented("".join(out), kept, starts, ends)
