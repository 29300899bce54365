"""The other half of the contract: every request our own client sends while it runs the guide
is a path and verb of the official specs (the sandbox records each one it answers)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sandbox_helpers import ARGOCD, ROLLOUTS, GitOpsRepo, application

from gitops_release.cli import main
from gitops_release.sandbox.server import Sandbox


def _norm(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


SPEC_ROUTES = {(v.upper(), _norm(p)) for p, ops in ARGOCD["paths"].items() for v in ops} | {
    (v.upper(), _norm("/rollouts" + p)) for p, ops in ROLLOUTS["paths"].items() for v in ops
}


def test_client_requests_are_all_in_the_specs(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in sandbox.env().items():
        if key.startswith(("ARGOCD_", "ROLLOUTS_")):
            monkeypatch.setenv(key, value)
    repo = GitOpsRepo(tmp_path / "repo", sandbox.repo_url("gitops"), sandbox.git_env())
    app_file = tmp_path / "app.yaml"
    app_file.write_text(json.dumps(application(repo.url)))  # JSON is YAML

    def run(*args: str) -> None:
        code = main(list(args))
        assert code == 0, (args, capsys.readouterr().err)

    run("app", "create", "--file", str(app_file))
    run("wait", "myapp", "--for", "released", "--timeout", "60s")
    repo.set_image("v2")
    run("wait", "myapp", "--for", "preview-ready", "--timeout", "60s")
    run("status", "myapp")
    run("status", "myapp", "--via", "dashboard")
    run("list")
    run("promote", "myapp", "--wait", "--timeout", "60s")
    run("history", "myapp")
    served = {(verb, _norm(t)) for verb, t in sandbox.requests}
    unmatched = sorted(t for _, t in served if t.startswith("unmatched:"))
    assert unmatched == []
    assert served - SPEC_ROUTES == set()
    assert len(served) >= 6
    print(f"\n{len(served)} distinct routes used by the client:", *sorted(served), sep="\n  ")
