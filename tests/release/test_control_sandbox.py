"""End to end on the sandbox (real sockets, real git): the guide's sequence and the error paths."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_release.sandbox.replicaset import Timing
from gitops_release.sandbox.server import Sandbox, SandboxConfig
from tests.conftest import APP_YAML, AUTO, Env, make_env


@pytest.fixture
def slow_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Env]:
    """Controller time at 1/10: the 30 s scale-down delay lasts 3 s, long enough to be seen."""
    sb = Sandbox(SandboxConfig(time_scale=0.1, state_dir=tmp_path / "sandbox-state")).start()
    try:
        yield make_env(tmp_path, monkeypatch, capsys, sb)
    finally:
        sb.stop()


def test_the_guides_sequence(slow_env: Env) -> None:
    e = slow_env
    e.create_app()
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    assert "Version: v1" in str(e.host("prod.myapp.com"))

    # bump v2 -> preview-ready returns once paused with v2 on the preview
    v2 = e.bump("v2")
    data = json.loads(
        e.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s", "-o", "json")
    )
    assert data["revision"] == v2 and data["images"] == ["ikubernetes/myapp:v2"]
    assert data["rollout"]["phase"] == "Paused" and data["rollout"]["message"] == "BlueGreenPause"
    status = e.ok("status", "myapp")
    assert "Status:          ॥ Paused\n" in status
    assert re.search(r"⧉ bluegreen-rollout-\w+ +ReplicaSet +✔ Healthy +\S+ +preview\n", status)
    assert re.search(
        r"⧉ bluegreen-rollout-\w+ +ReplicaSet +✔ Healthy +\S+ +stable,active\n", status
    )
    assert (
        "Images:          ikubernetes/myapp:v1 (stable, active)\n                 ikubernetes/myapp:v2 (preview)\n"
        in status
    )
    assert (
        "Prod URL:        http://prod.myapp.com\nPreview URL:     http://test.myapp.com\n" in status
    )
    assert "Version: v1" in str(e.host("prod.myapp.com"))
    assert "Version: v2" in str(e.host("test.myapp.com"))

    # promote --wait -> released; the old ReplicaSet counts its delay down, then scales down
    out = e.ok("promote", "myapp", "--wait", "--timeout", "60s")
    assert "promote done" in out and "released on ikubernetes/myapp:v2" in out
    delay = r"⧉ bluegreen-rollout-\w+ +ReplicaSet +✔ Healthy +\S+ +delay:(\d+s|passed)\n"
    for _ in range(20):  # the controller annotates the old ReplicaSet a pass after "released"
        status = e.ok("status", "myapp")
        if re.search(delay, status):
            break
        e.sb.advance(0)  # one more controller pass, no controller time
    assert re.search(delay, status), status
    assert "Version: v2" in str(e.host("prod.myapp.com"))
    e.sb.advance(60)
    status = e.ok("status", "myapp")
    assert re.search(r"└──⧉ bluegreen-rollout-\w+ +ReplicaSet +• ScaledDown +\S+ *\n", status), (
        status
    )

    # bump v3, then abort: Degraded with the RolloutAborted message; prod keeps v2, test stops
    e.bump("v3")
    e.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    assert "Version: v3" in str(e.host("test.myapp.com"))
    out = e.ok("abort", "myapp", "--no-revert")  # the action alone (the default also reverts Git)
    assert "abort done" in out
    status = e.ok("status", "myapp")
    assert (
        "Status:          ✖ Degraded\nMessage:         RolloutAborted: Rollout aborted update to revision 3\n"
        in status
    )
    assert "Version: v2" in str(e.host("prod.myapp.com"))
    e.sb.advance(60)
    status = e.ok("status", "myapp")
    assert re.search(r"ReplicaSet +• ScaledDown +\S+ +preview(,delay:\w+)?\n", status), status
    assert "Version: v3" not in str(e.host("test.myapp.com"))
    # waiting for released now fails fast with the server's message (exit 1)
    code, _, err = e.cli("wait", "myapp", "--for", "released", "--timeout", "30s")
    assert code == 1 and "RolloutAborted: Rollout aborted update to revision 3" in err


def test_status_json_and_ages_on_the_servers_clock(slow_env: Env) -> None:
    e = slow_env
    e.create_app()
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    status = e.ok("status", "myapp")
    assert "<invalid>" not in status
    data = json.loads(e.ok("status", "myapp", "-o", "json"))
    assert data["rollout"]["images"] == ["ikubernetes/myapp:v1 (stable, active)"]
    assert data["rollout"]["replica_sets"][0]["stable"] is True
    assert data["prod_url"] == "http://prod.myapp.com"


def test_bad_token_is_exit_4_naming_the_token(env: Env) -> None:
    env.monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "not-a-valid-token")
    code, _, err = env.cli("status", "myapp")
    assert code == 4
    assert "HTTP 401" in err and "ARGOCD_AUTH_TOKEN" in err
    assert "not-a-valid-token" not in err


def test_login_with_password_on_stdin(env: Env) -> None:
    import io

    env.monkeypatch.delenv("ARGOCD_AUTH_TOKEN")
    env.monkeypatch.setattr("sys.stdin", io.StringIO(env.sb.admin_password + "\n"))
    code, out, err = env.cli("list", "--username", "admin", "--password-stdin")
    assert code == 0, err
    assert out.startswith("NAME")
    env.monkeypatch.setattr("sys.stdin", io.StringIO("wrong-password\n"))
    code, _, err = env.cli("list", "--username", "admin", "--password-stdin")
    assert code == 4 and "login as admin failed" in err and "wrong-password" not in err


def test_app_not_found_is_exit_4_not_a_bare_403(env: Env) -> None:
    code, _, err = env.cli("wait", "nope", "--for", "synced", "--timeout", "5s")
    assert code == 4
    assert "application nope not found" in err and "gitops-release list" in err
    assert "403" not in err


def test_sync_waits_for_the_running_operation_then_syncs(env: Env) -> None:
    env.create_app(auto=False)
    env.sb.inject("operation-in-progress", app="myapp", seconds=100)  # 1 s of real time
    code, out, err = env.cli("sync", "myapp", "--timeout", "60s")
    assert code == 0, err
    assert "operation is in progress" in err
    assert out.startswith("myapp is synced: revision ")
    data = json.loads(
        env.ok("wait", "myapp", "--for", "released", "--timeout", "60s", "-o", "json")
    )
    assert data["images"] == ["ikubernetes/myapp:v1"]


def test_5xx_burst_is_retried_then_succeeds(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    env.sb.inject("http-error", status=503, count=2, path="/api/v1/applications")
    assert "Name:            bluegreen-rollout" in env.ok("status", "myapp")


def test_5xx_forever_is_exit_4_after_bounded_retries(env: Env) -> None:
    env.create_app()
    env.sb.inject("http-error", status=502, count=50, path="/api/v1/applications")
    code, _, err = env.cli("status", "myapp")
    assert code == 4
    assert "HTTP 502" in err


def test_stream_cut_mid_wait_resumes(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    env.sb.inject("drop-stream", count=3, after=1)
    env.bump("v2")
    data = json.loads(
        env.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s", "-o", "json")
    )
    assert data["images"] == ["ikubernetes/myapp:v2"]


def test_timeout_is_exit_6_saying_what_is_missing(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    env.sb.fail_image("ikubernetes/myapp:v2", "never-ready")
    env.bump("v2")
    code, _, err = env.cli("wait", "myapp", "--for", "preview-ready", "--timeout", "2s")
    assert code == 6, err
    assert "timed out after 2s waiting for myapp to be preview-ready" in err
    assert "preview has 0/1 available" in err


def test_degraded_is_exit_1_with_the_servers_message(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    env.sb.fail_image("ikubernetes/myapp:v2", "never-ready")
    env.bump("v2")
    env.ok("wait", "myapp", "--for", "synced", "--timeout", "60s")
    env.sb.advance(700)  # past progressDeadlineSeconds (600)
    code, _, err = env.cli("wait", "myapp", "--for", "preview-ready", "--timeout", "30s")
    assert code == 1, err
    assert "ProgressDeadlineExceeded" in err


def test_promote_refuses_a_silent_noop_and_says_so(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    data = json.loads(env.ok("promote", "myapp", "-o", "json"))
    assert data["changed"] is False and "already fully promoted" in data["message"]
    env.sb.fail_image("ikubernetes/myapp:v2", "never-ready")
    env.bump("v2")
    env.ok("wait", "myapp", "--for", "synced", "--timeout", "60s")
    code, _, err = env.cli("promote", "myapp")
    assert code == 1 and "is not paused" in err and "silent no-op" in err
    # retry on a rollout that is not aborted changes nothing
    data = json.loads(env.ok("retry", "myapp", "-o", "json"))
    assert data["changed"] is False


def test_abort_retry_and_restart_through_the_dashboard(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    env.bump("v2")
    env.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    out = env.ok("abort", "myapp", "--via", "dashboard", "--no-revert")
    assert "abort done" in out
    out = env.ok("retry", "myapp", "--via", "dashboard")
    assert "retry done" in out
    env.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    status = env.ok("status", "myapp", "--via", "dashboard")
    assert "Message:         BlueGreenPause" in status
    out = env.ok("promote", "myapp", "--via", "dashboard", "--wait", "--timeout", "60s")
    assert "released on ikubernetes/myapp:v2" in out
    out = env.ok("restart", "myapp")
    assert "restart done" in out


def test_app_create_is_an_upsert_and_delete_removes_it(env: Env) -> None:
    env.create_app()
    app_file = env.tmp / "myapp-app.yaml"
    data = json.loads(env.ok("app", "create", "--file", str(app_file), "-o", "json"))
    assert data == {"applications": [{"name": "myapp", "action": "unchanged"}], "changed": False}
    app_file.write_text(app_file.read_text().replace("selfHeal: false", "selfHeal: true"))
    assert "application myapp updated" in env.ok("app", "create", "--file", str(app_file))
    bad = env.tmp / "bad.yaml"
    bad.write_text("kind: Deployment\n")
    code, _, err = env.cli("app", "create", "--file", str(bad))
    assert code == 2 and "no kind: Application" in err
    assert "application myapp deleted" in env.ok(
        "app", "delete", "myapp", "--yes", "--wait", "--timeout", "30s"
    )
    code, _, err = env.cli("status", "myapp")
    assert code == 4 and "not found" in err


def test_list_and_history(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    v2 = env.bump("v2")
    env.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    table = env.ok("list")
    assert re.search(
        r"myapp +Synced +Suspended +\w{12} +bluegreen-rollout +BlueGreen +Paused +2/2", table
    ), table
    env.monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", env.sb.git_token)
    rows = json.loads(env.ok("history", "myapp", "-o", "json"))["history"]
    assert rows[0]["revision"] == v2 and rows[0]["id"] > rows[-1]["id"]
    assert rows[0]["image"] == "ikubernetes/myapp:v2"
    assert rows[0]["previous"] == "ikubernetes/myapp:v1"
    assert rows[0]["author"] == "Test Author"
    assert rows[-1]["message"] == "myapp v1" and rows[-1]["image"] == ""
    table = env.ok("history", "myapp")
    assert (
        table.startswith("ID  DEPLOYED")
        and "ikubernetes/myapp:v2  ikubernetes/myapp:v1  Test Author" in table
    )
    # from a local checkout too, and Argo CD's history alone when Git cannot be read
    local = json.loads(env.ok("history", "myapp", "--repo", str(env.repo), "-o", "json"))["history"]
    assert local[0]["image"] == "ikubernetes/myapp:v2"
    code, out, err = env.cli("history", "myapp", "--repo", str(env.tmp / "no-such-checkout"))
    assert code == 0 and "showing Argo CD's history only" in err and v2[:7] in out


def test_watch_based_wait_makes_few_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 60 s (controller time) rollout to preview-ready, at 1/10 speed (6 s real): the wait
    follows the watch stream instead of polling every second."""
    timing = Timing(pod_start=10.0, pod_ready=50.0)
    sb = Sandbox(SandboxConfig(time_scale=0.1, state_dir=tmp_path / "state", timing=timing)).start()
    try:
        e = make_env(tmp_path, monkeypatch, capsys, sb)
        e.create_app()
        e.ok("wait", "myapp", "--for", "released", "--timeout", "120s")
        e.bump("v2")
        data = json.loads(
            e.ok("wait", "myapp", "--for", "preview-ready", "--timeout", "120s", "-o", "json")
        )
        print(
            f"\nwait --for preview-ready: {data['http_requests']} HTTP requests over {data['waited_seconds']} s"
        )
        assert data["waited_seconds"] >= 5.0  # it really waited for the 60 s rollout
        assert data["http_requests"] <= 12
    finally:
        sb.stop()


def test_status_watch_prints_only_changes_when_not_a_tty(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    out = env.ok("status", "myapp", "--watch", "--timeout", "1s")
    # nothing changed while watching: one view, not one per poll
    assert out.count("Application:     myapp") == 1
    lines = env.ok("status", "myapp", "--watch", "--timeout", "1s", "-o", "json")
    assert json.loads(lines)["rollout"]["status"] == "Healthy"


def test_sync_with_auto_sync_refreshes_and_waits_instead_of_pinning(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    v2 = env.bump("v2")
    code, out, err = env.cli("sync", "myapp", "--revision", v2, "--timeout", "60s")
    assert code == 0, err
    assert "auto-sync is on" in err
    assert out.startswith(f"myapp is synced: revision {v2[:12]}")


MISSING = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize("auto", [True, False], ids=["auto-sync", "manual"])
def test_sync_to_a_commit_that_does_not_exist_fails_at_once(env: Env, auto: bool) -> None:
    """Issue 14, item 3: with auto-sync on this waited the whole --timeout and exited 6."""
    env.create_app(auto=auto)
    code, _, err = env.cli("sync", "myapp", "--revision", MISSING, "--timeout", "60s")
    assert code == 4, err
    assert "Argo CD refused to sync myapp" in err and "timed out" not in err
    reason = "auto-sync currently set to main" if auto else "unable to resolve"
    assert reason in err


def test_sync_to_a_commit_off_the_branch_with_auto_sync_says_the_servers_reason(
    env: Env,
) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    env.git("checkout", "-qb", "side")
    other = env.bump("v9")
    env.git("push", "-q", "origin", "side")
    code, _, err = env.cli("sync", "myapp", "--revision", other, "--timeout", "60s")
    assert code == 4, err
    assert f"Cannot sync to {other}: auto-sync currently set to main" in err


def test_status_before_the_first_sync_and_wait_naming_manual_sync(env: Env) -> None:
    env.create_app(auto=False)
    status = env.ok("status", "myapp")
    assert "Sync:            OutOfSync" in status
    assert "Note:            Rollout default/bluegreen-rollout does not exist yet" in status
    code, _, err = env.cli("wait", "myapp", "--for", "synced", "--timeout", "1s")
    assert code == 6 and "auto-sync is off: run `gitops-release sync myapp`" in err


def test_promote_full_skips_the_pause(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    env.bump("v2")
    env.ok("wait", "myapp", "--for", "synced", "--timeout", "60s")
    data = json.loads(
        env.ok("promote", "myapp", "--full", "--wait", "--timeout", "60s", "-o", "json")
    )
    assert data["action"] == "promote-full" and data["changed"] is True
    assert data["released"]["rollout"]["phase"] == "Healthy"
    assert data["released"]["images"] == ["ikubernetes/myapp:v2"]
    assert "Version: v2" in str(env.host("prod.myapp.com"))


def test_wait_for_a_commit_accepts_a_later_tip_that_contains_it(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    v2 = env.bump("v2")
    (env.repo / "myapp" / "NOTES.md").write_text("another team's change on top\n")
    env.git("add", ".")
    env.git("commit", "-qm", "unrelated change")
    env.git("push", "-q", "origin", "main")
    data = json.loads(
        env.ok(
            "wait",
            "myapp",
            "--for",
            "preview-ready",
            "--revision",
            v2,
            "--timeout",
            "60s",
            "-o",
            "json",
        )
    )
    assert data["revision"] == v2 and data["images"] == ["ikubernetes/myapp:v2"]
    # a commit that is not in the synced history never satisfies it
    code, _, err = env.cli(
        "wait", "myapp", "--for", "synced", "--revision", "0" * 40, "--timeout", "1s"
    )
    assert code == 6 and "has not synced revision 000000000000 yet" in err


class _Terminal(io.StringIO):
    """stdin as a terminal where the user types ``answer``."""

    def isatty(self) -> bool:
        return True


def test_app_delete_asks_on_a_terminal_and_refuses_without_one(env: Env) -> None:
    """Friction (issue 14): ``app delete`` cascaded without asking. On a terminal it asks
    (no: nothing deleted, exit 2); without one (CI, a pipe) it refuses unless --yes, saying so;
    --dry-run needs neither."""
    env.create_app()
    code, _, err = env.cli("app", "delete", "myapp")  # pytest's stdin is no terminal
    assert code == 2, err
    assert "stdin is not a terminal" in err and "--yes" in err
    assert "DELETE" in env.ok("app", "delete", "myapp", "--dry-run")
    env.monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    code, _, err = env.cli("app", "delete", "myapp")
    assert code == 2 and "Delete application myapp and every resource it manages?" in err
    assert "not deleted" in err
    env.ok("status", "myapp")  # still there
    env.monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    assert "application myapp deleted" in env.ok("app", "delete", "myapp", "--wait")
    code, _, err = env.cli("status", "myapp")
    assert code == 4 and "not found" in err


def test_app_create_dry_run_shows_the_diff(env: Env) -> None:
    """Friction (issue 14): ``app create --dry-run`` said only "would update". It shows what it
    would apply: a new app's whole spec, an existing app's spec as a unified diff."""
    app_file = env.tmp / "myapp-app.yaml"
    app_file.write_text(APP_YAML.format(repo=env.sb.repo_url("gitops"), policy=AUTO))
    out = env.ok("app", "create", "--file", str(app_file), "--dry-run")
    assert "application myapp would be created" in out
    assert "+  source:" in out and "+    path: myapp" in out
    code, _, _ = env.cli("status", "myapp")
    assert code == 4  # nothing created
    env.create_app()
    app_file.write_text(app_file.read_text().replace("path: myapp", "path: apps/myapp"))
    out = env.ok("app", "create", "--file", str(app_file), "--dry-run")
    assert "application myapp would be updated" in out
    assert "-    path: myapp\n+    path: apps/myapp" in out
    assert "+  source:" not in out  # only what changes, with its context
    data = json.loads(env.ok("app", "create", "--file", str(app_file), "--dry-run", "-o", "json"))
    assert data["applications"][0]["action"] == "would update"
    assert "+    path: apps/myapp" in data["applications"][0]["diff"]
    again = env.ok("app", "create", "--file", str(app_file), "--dry-run")
    assert "would be updated" in again  # nothing was applied
    labelled = APP_YAML.format(repo=env.sb.repo_url("gitops"), policy=AUTO)
    app_file.write_text(
        labelled.replace("  name: myapp\n", "  name: myapp\n  labels:\n    team: a\n")
    )
    out = env.ok("app", "create", "--file", str(app_file), "--dry-run")
    assert "would be updated" in out and "+    team: a" in out


def test_promote_says_its_result_once_and_reports_the_phase_it_waited_for(
    live_env: Env,
) -> None:
    e = live_env
    e.ok("deploy", "v2", "--app", "myapp", "--timeout", "60s")
    code, out, err = e.cli("promote", "myapp", "--wait", "--timeout", "60s")
    assert code == 0, err
    assert "promote done" in out and "released on ikubernetes/myapp:v2" in out
    assert "promote done" not in err  # the result on stdout only, not on both streams
    e.ok("deploy", "v3", "--app", "myapp", "--timeout", "60s")
    data = json.loads(e.ok("promote", "myapp", "--wait", "--timeout", "60s", "-o", "json"))
    assert data["released"]["reached"] is True
    assert data["phase"] == data["released"]["rollout"]["phase"] == "Healthy"  # not Progressing


def test_a_timeout_says_what_is_missing_once_and_hints_name_the_app(env: Env) -> None:
    env.create_app()
    env.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    env.sb.fail_image("ikubernetes/myapp:v2", "never-ready")
    env.bump("v2")
    code, _, err = env.cli("wait", "myapp", "--for", "released", "--timeout", "2s")
    assert code == 6, err
    line = err.strip().splitlines()[-1]
    assert line.count("more replicas need to be updated") == 1, line
    assert "rollout bluegreen-rollout" in line  # the Rollout named once, by its name
    code, _, err = env.cli("promote", "myapp")
    assert code == 1, err
    assert "APP" not in err and "`gitops-release wait myapp --for preview-ready`" in err
