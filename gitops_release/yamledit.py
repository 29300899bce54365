"""YAML: the only importer of ruamel.yaml.

Reading (``load_all``) builds plain Python data for checks such as ``lint``. Editing (locate images
by meaning, splice new values into the original text byte-exactly) lives here too.
"""

from __future__ import annotations

from typing import Any

from gitops_release.errors import UsageError


class YamlError(UsageError):
    """YAML that cannot be read or edited safely (exit 2); names the file, line and column."""


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
