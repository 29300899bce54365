"""``deploy`` options and refusals: app-level image overrides, --supersede, --on-failure, a
failure after promotion, and the CLI wiring (usage errors before any network call)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_release.cli import main
from gitops_release.record import dotenv_text, read_dotenv
from gitops_release.sandbox.server import Sandbox
from tests.conftest import AUTO, Env, make_env, remote_image


@pytest.fixture
def env(git_env: Env) -> Env:
    return git_env


def ready(e: Env) -> None:
    e.create_app()
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")


def test_app_level_image_override_is_refused_before_any_write(env: Env) -> None:
    from tests.conftest import APP_YAML

    app_file = env.tmp / "app.yaml"
    kustomize = "    kustomize:\n      images: [ikubernetes/myapp:v9]\n"
    app_file.write_text(APP_YAML.format(repo=env.sb.repo_url("gitops"), policy=kustomize + AUTO))
    env.ok("app", "create", "--file", str(app_file))
    head = env.git("rev-parse", "HEAD")
    code, _, err = env.cli("deploy", "v2", "--app", "myapp", "--timeout", "30s")
    assert code == 2, err
    assert "overrides the image in Argo CD itself: spec.source.kustomize.images" in err
    env.git("fetch", "-q", "origin")
    assert env.git("rev-parse", "origin/main") == head


def test_supersede_replaces_a_release_in_progress(env: Env) -> None:
    ready(env)
    env.ok("deploy", "v2", "--app", "myapp", "--timeout", "60s")
    code, _, err = env.cli("deploy", "v3", "--app", "myapp", "--timeout", "60s")
    assert code == 5 and "--supersede" in err
    code, out, err = env.cli("deploy", "v3", "--app", "myapp", "--supersede", "--timeout", "60s")
    assert code == 0, err
    assert "superseding the release in progress" in err and "preview-ready" in out
    assert "Version: v3" in str(env.host("test.myapp.com"))
    assert "Version: v1" in str(env.host("prod.myapp.com"))


def test_on_failure_abort_only_leaves_git_on_the_new_image(env: Env) -> None:
    ready(env)
    env.sb.fail_image("ikubernetes/myapp:v2", "http-500")
    code, _, err = env.cli(
        "deploy", "v2", "--app", "myapp", "--check", "preview", "--ingress-url",
        env.sb.ingress_url, "--check-timeout", "1s", "--on-failure", "abort-only",
        "--timeout", "60s",
    )  # fmt: skip
    assert code == 1
    assert "abort done" in err and "--on-failure abort-only" in err
    assert remote_image(env) == "ikubernetes/myapp:v2"
    assert "Version: v1" in str(env.host("prod.myapp.com"))


def test_on_failure_none_touches_nothing(env: Env) -> None:
    ready(env)
    env.sb.fail_image("ikubernetes/myapp:v2", "http-500")
    code, _, err = env.cli(
        "deploy", "v2", "--app", "myapp", "--check", "preview", "--ingress-url",
        env.sb.ingress_url, "--check-timeout", "1s", "--on-failure", "none", "--timeout", "60s",
    )  # fmt: skip
    assert code == 1 and "leaving it as it is" in err and "abort done" not in err
    status = json.loads(env.ok("status", "myapp", "-o", "json"))
    assert status["rollout"]["status"] == "Paused", status["rollout"]


def test_failed_prod_check_after_promotion_goes_back_to_stable(env: Env) -> None:
    ready(env)
    dotenv = env.tmp / "deploy.env"
    code, _, err = env.cli(
        "deploy", "v2", "--app", "myapp", "--promote", "--check", "prod", "--expect", "Version: v9",
        "--ingress-url", env.sb.ingress_url, "--check-timeout", "1s", "--timeout", "60s",
        "--dotenv", str(dotenv),
    )  # fmt: skip
    assert code == 1, err
    assert "smoke check prod failed" in err
    assert remote_image(env) == "ikubernetes/myapp:v1"
    assert "Version: v1" in str(env.host("prod.myapp.com"))
    values = read_dotenv(dotenv.read_text())
    assert values["NEW_TAG"] == "v2" and values["PREVIOUS_TAG"] == "v1"


def test_usage_errors_exit_2_before_any_network_call(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["deploy", "not a tag", "--app", "myapp", "--server", "http://127.0.0.1:9"])
    assert code == 2 and "new tag" in capsys.readouterr().err
    code = main(
        ["deploy", "v2", "--app", "myapp", "--expect", "(", "--server", "http://127.0.0.1:9"]
    )
    assert code == 2 and "not a regular expression" in capsys.readouterr().err
    code = main(["deploy", "v2", "--app", "myapp", "--on-failure", "maybe"])
    assert code == 2


def test_unreachable_argocd_is_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "t0ken-value")
    monkeypatch.setenv("GITOPS_RELEASE_HTTP_RETRIES", "0")
    code = main(["deploy", "v2", "--app", "myapp", "--server", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 4 and "cannot reach Argo CD" in err and "t0ken-value" not in err


def test_help_shows_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("deploy", "verify", "rollback"):
        assert main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert "Examples:" in text and f"gitops-release {command}" in text


def test_dotenv_is_plain_key_value_lines() -> None:
    text = dotenv_text(
        {"NEW_TAG": "v2", "PREVIEW_URL": "http://test.myapp.com", "ROLLOUT_REVISION": 3}
    )
    assert text == (
        "RELEASE_COMMIT=\nPREVIOUS_TAG=\nNEW_TAG=v2\nPREVIEW_URL=http://test.myapp.com\n"
        "PROD_URL=\nROLLOUT_REVISION=3\n"
    )


def test_deploy_refuses_a_canary_rollout_and_writes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
) -> None:
    """preview-ready and released are blue-green states: a canary Rollout must not be called
    released while its steps run (found by the reliability suite)."""
    e = make_env(tmp_path, monkeypatch, capsys, sandbox)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sandbox.git_token)
    rollout = e.repo / "myapp" / "rollout.yaml"
    text = rollout.read_text()
    start, end = text.index("    blueGreen:"), text.index("  revisionHistoryLimit:")
    rollout.write_text(
        text[:start] + "    canary:\n      steps:\n      - setWeight: 20\n" + text[end:]
    )
    e.git("commit", "-qam", "canary")
    e.git("push", "-q", "origin", "main")
    e.create_app()
    e.ok("wait", "myapp", "--for", "synced", "--timeout", "30s")
    tip = e.git("rev-parse", "HEAD")
    code, _, err = e.cli("deploy", "v2", "--app", "myapp", "--timeout", "30s")
    assert code == 2, err
    assert "uses the Canary strategy; deploy drives blue-green" in err
    e.git("fetch", "-q", "origin")
    assert e.git("rev-parse", "origin/main") == tip
