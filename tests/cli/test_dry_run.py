"""``--dry-run`` on every command with a side effect (issue 14, item 6): it goes through the
command's own path, stops before the first change, and prints the plan (the Git diff, the Argo CD
calls it would make). Checked against the sandbox: no request but GETs reaches Argo CD or the
dashboard, the GitOps remote does not move, the Rollout stays as it was.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from gitops_release.cli import app, load_commands
from tests.conftest import Env

# The commands that only read (or run a server): every other command changes something.
READ_ONLY = {
    "status", "list", "history", "wait", "verify", "lint", "sandbox up", "sandbox demo",
    "env status",
}  # fmt: skip
# Commands whose dry run needs more than the one app below, proved in their own tests.
ELSEWHERE = {"env promote": "tests/release/test_promote_sandbox.py (three environments)"}

# command -> (argv on the app paused in preview on v2 (v1 active), words the plan must show)
PLANS: dict[str, tuple[list[str], list[str]]] = {
    "deploy": (
        ["deploy", "v3", "--app", "myapp", "--supersede", "--promote"],
        [
            "-        image: ikubernetes/myapp:v2",
            "+        image: ikubernetes/myapp:v3",
            "GET /api/v1/applications/myapp?refresh=normal",
            "preview-ready",
            '"resume"',
        ],
    ),
    "rollback": (
        ["rollback", "myapp", "--to", "v1"],
        ["+        image: ikubernetes/myapp:v1", "refresh=normal", "preview-ready"],
    ),
    "abort": (
        ["abort", "myapp"],
        ["resource/actions", '"abort"', "+        image: ikubernetes/myapp:v1"],
    ),
    "promote": (["promote", "myapp", "--wait"], ['"resume"', "released"]),
    "retry": (["retry", "myapp"], ["not aborted: nothing to retry"]),
    "restart": (["restart", "myapp"], ['"restart"']),
    "sync": (["sync", "myapp", "--prune"], ["refresh=normal", "auto-sync on"]),
    "app delete": (["app", "delete", "myapp"], ["DELETE /api/v1/applications/myapp?cascade=true"]),
    "app create": (["app", "create", "--file", "{tmp}/myapp-app.yaml"], ["unchanged"]),
    "bump-image": (
        ["bump-image", "v3", "--app", "myapp", "--repo", "{repo}"],
        ["+        image: ikubernetes/myapp:v3"],
    ),
    "scaffold": (
        [
            "scaffold",
            "other",
            "--image",
            "ikubernetes/myapp:v1",
            "--prod-host",
            "p.example.com",
            "--preview-host",
            "t.example.com",
            "--repo-dir",
            "{repo}",
        ],
        ["other/rollout.yaml"],
    ),
}


def _leaf_commands() -> dict[str, Any]:
    load_commands()
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), [])
    return found


def test_every_command_with_a_side_effect_has_dry_run_and_is_in_the_table() -> None:
    commands = _leaf_commands()
    assert set(PLANS) | set(ELSEWHERE) == set(commands) - READ_ONLY
    missing = [
        n
        for n in (*PLANS, *ELSEWHERE)
        if not any("--dry-run" in p.opts for p in commands[n].params)
    ]
    assert missing == []


def test_dry_run_of_every_command_changes_nothing_and_shows_the_plan(live_env: Env) -> None:
    env = live_env
    env.ok("deploy", "v2", "--app", "myapp", "--timeout", "60s")  # v2 paused in preview
    tip = env.git("ls-remote", "origin", "refs/heads/main")
    before = json.loads(env.ok("status", "myapp", "-o", "json"))
    fill = {"repo": str(env.repo), "tmp": str(env.tmp)}
    for command, (argv, words) in PLANS.items():
        args = [a.format(**fill) for a in argv]
        seen = len(env.sb.requests)
        code, out, err = env.cli(*args, "--dry-run")
        assert code == 0, f"{command}: exit {code}: {err}"
        for word in words:
            assert word in out, f"{command}: {word!r} not in the plan:\n{out}"
        changes = [r for r in env.sb.requests[seen:] if r[0] != "GET"]
        assert changes == [], f"{command} --dry-run sent {changes}"
        assert env.git("ls-remote", "origin", "refs/heads/main") == tip, command
        code, out, _ = env.cli(*args, "--dry-run", "-o", "json")
        assert code == 0 and json.loads(out).get("dry_run", True) is True, command
    assert not (env.repo / "other").exists()
    assert env.git("status", "--porcelain") == ""
    after = json.loads(env.ok("status", "myapp", "-o", "json"))
    for key in ("revision", "health", "sync"):
        assert after.get(key) == before.get(key), key
    ro_before, ro_after = before["rollout"], after["rollout"]
    assert ro_before["status"] == "Paused" and "(preview)" in str(ro_before["images"])
    for key in ("status", "message", "images"):
        assert ro_after[key] == ro_before[key], key
