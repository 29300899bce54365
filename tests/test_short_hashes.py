"""A commit is shown by one short form everywhere (``output.short_sha``: 12 hex digits, as
``status`` shows the synced revision), or in full; never 7 here and 8 there."""

from __future__ import annotations

import re
from pathlib import Path

from gitops_release import output
from tests.conftest import Env

PACKAGE = Path(__file__).resolve().parents[1] / "gitops_release"
# a hex run standing alone (not the pod-template hash inside a ReplicaSet or Pod name)
HEX = re.compile(r"(?<![-\w])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}(?![-\w])")


def test_short_sha_is_twelve_digits() -> None:
    sha = "0b7fdf0ed8c9a1b2c3d4e5f60718293a4b5c6d7e"
    assert output.short_sha(sha) == "0b7fdf0ed8c9"
    assert output.short_sha("") == ""


def test_a_release_shows_every_commit_in_one_length(live_env: Env) -> None:
    e = live_env
    shown, outputs = [], []
    for args in (
        ("deploy", "v2", "--app", "myapp", "--timeout", "60s"),
        ("promote", "myapp", "--wait", "--timeout", "60s"),
        ("sync", "myapp", "--timeout", "60s"),
        ("bump-image", "v3", "--argocd-app", "myapp"),
        ("list",),
        ("status", "myapp"),
        ("history", "myapp"),
    ):
        code, out, err = e.cli(*args)
        assert code == 0, (args, err)
        shown += [(args[0], h) for h in HEX.findall(out + err)]
        outputs.append(out + err)
    assert {cmd for cmd, _ in shown} >= {"deploy", "list", "status", "history"}, shown
    assert [(cmd, h) for cmd, h in shown if len(h) not in (12, 40)] == [], outputs


def test_no_module_cuts_a_commit_to_another_length() -> None:
    cut = re.compile(
        r"(sha|commit|revision|base|tip)\w*\)?\s*(or\s*'[^']*'\)?)?(\[:(\d+)\]|:\.\d+\})"
    )
    found = [
        f"{path.relative_to(PACKAGE)}: {m.group(0)}"
        for path in PACKAGE.rglob("*.py")
        if "sandbox" not in path.parts  # the other side of the wire shows what Argo CD shows
        for m in cut.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "use output.short_sha: " + "; ".join(found)
