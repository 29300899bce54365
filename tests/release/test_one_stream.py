"""One result on one stream: stdout carries the result, stderr the progress; no command says
the same thing on both (a CI log shows both streams one after the other)."""

from __future__ import annotations

import re

from tests.conftest import Env

STAMP = re.compile(r"^\d\d:\d\d:\d\d ")


def _lines(text: str) -> set[str]:
    return {STAMP.sub("", line).strip() for line in text.splitlines() if line.strip()}


def test_no_command_prints_a_line_on_both_streams(live_env: Env) -> None:
    e = live_env
    ingress = ("--ingress-url", e.sb.ingress_url, "--check-timeout", "5s")
    both = {}
    for args in (
        ("deploy", "v2", "--app", "myapp", "--check", "preview", *ingress, "--timeout", "60s"),
        ("verify", "myapp", "--preview", *ingress),
        ("promote", "myapp", "--wait", "--timeout", "60s"),
        ("sync", "myapp", "--timeout", "60s"),
        ("wait", "myapp", "--for", "released", "--timeout", "60s"),
        ("deploy", "v3", "--app", "myapp", "--timeout", "60s"),
        ("abort", "myapp", "--timeout", "60s"),
        ("retry", "myapp"),
        ("rollback", "myapp", "--to", "v2", "--timeout", "60s"),
        ("restart", "myapp"),
        ("status", "myapp"),
        ("history", "myapp"),
        ("list",),
    ):
        code, out, err = e.cli(*args)
        assert code == 0, (args, err)
        if repeated := _lines(out) & _lines(err):
            both[" ".join(args[:2])] = sorted(repeated)
    assert both == {}
