"""Write plain data as YAML, block style, keys in their given order: what a dry run shows of an
object (``app create --dry-run``), never what a release edits (edits are byte-exact splices)."""

from __future__ import annotations

import io
from typing import Any


def dump(data: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()
