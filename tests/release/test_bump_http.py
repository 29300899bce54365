"""bump-image against the smart-HTTP git server: auth, re-anchoring, concurrency, secret canary."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from gitops_release import config, output
from gitops_release.cli import main
from gitops_release.errors import NotLanded, RemoteError
from gitops_release.git import auth as gitauth
from gitops_release.git import repo as gitrepo
from gitops_release.git.push import RetryPolicy, push_branch
from gitops_release.release import bump as release
from gitops_release.release.edit import BumpRequest
from gitops_release.sandbox.gitserver import GitServer
from tests.conftest import ROLLOUT, SERVICE, git

TOKEN = "glpat-CANARY-7f3a9c1e5b"
ENTRY = str(Path(sys.executable).parent / "gitops-release")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    srv = GitServer(tmp_path / "srv", TOKEN, lifetime=120)
    srv.start()
    yield srv
    srv.stop()


def seed(server: GitServer, tmp_path: Path, apps: list[str], name: str = "team/gitops.git") -> str:
    """Push a GitOps repo with one Rollout per app; returns its URL (no credentials)."""
    work = tmp_path / "seed"
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    for app in apps:
        (work / "apps" / app).mkdir(parents=True)
        (work / "apps" / app / "rollout.yaml").write_text(ROLLOUT.format(name=app))
        (work / "apps" / app / "service.yaml").write_text(SERVICE)
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "seed")
    env = {**os.environ, **gitauth.git_environ(gitauth.Credentials("oauth2", TOKEN))}
    subprocess.run(["git", "push", "-q", server.url(name), "main"], cwd=work, env=env, check=True)
    return server.url(name)


def cli(*args: str, token: str | None = TOKEN) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if token is not None:
        env["GITOPS_RELEASE_GIT_TOKEN"] = token
    return subprocess.Popen(
        [ENTRY, "bump-image", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def bare(server: GitServer) -> Path:
    return server.root / "team/gitops.git"


def test_push_over_http_with_token(
    server: GitServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = seed(server, tmp_path, ["web"])
    assert main(["bump-image", "v2", "--repo", url, "--app", "apps/web"]) == 4  # no token
    err = capsys.readouterr().err
    assert "GITOPS_RELEASE_GIT_TOKEN" in err
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", TOKEN)
    assert main(["bump-image", "v2", "--repo", url, "--app", "apps/web", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pushed"] and git(bare(server), "rev-parse", "main") == data["commit"]
    pushes = [r for r in server.log if r.path.endswith("git-receive-pack") and r.method == "POST"]
    assert pushes and all(r.user == "oauth2" for r in pushes)


def test_lost_races_are_re_anchored_and_other_commits_kept(
    server: GitServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = seed(server, tmp_path, ["web"])
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", TOKEN)
    server.race_next_pushes(3)
    assert main(["bump-image", "v2", "--repo", url, "--app", "apps/web", "-o", "json"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["attempts"] == 4 and server.races == 3
    assert captured.err.count("re-applying the edit") == 3
    log = git(bare(server), "log", "--format=%s", "main").splitlines()
    assert log[0].startswith("release(web)")
    assert sum(s.startswith("another writer") for s in log) == 3
    assert git(bare(server), "rev-list", "--merges", "main") == ""
    assert "team/web:v2" in git(bare(server), "show", "main:apps/web/rollout.yaml")


def test_still_rejected_after_retries_exits_5(server: GitServer, tmp_path: Path) -> None:
    url = seed(server, tmp_path, ["web"])
    server.race_next_pushes(10)
    req = BumpRequest("v2", app="apps/web", repo=url)
    settings = config.resolve(
        {},
        environ={"GITOPS_RELEASE_GIT_TOKEN": TOKEN, "GITOPS_RELEASE_VERIFY_IMAGE": "off"},
        cwd=tmp_path,
    )
    policy = RetryPolicy(attempts=3, sleep=lambda _s: None)
    with pytest.raises(NotLanded, match="still rejected after 3 attempt"):
        release.bump_image(
            req, settings=settings, out=output.Output(err=io.StringIO()), policy=policy
        )
    assert server.races == 3


def test_remote_gone_mid_push_exits_5_and_unreachable_exits_4(
    server: GitServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = seed(server, tmp_path, ["web"])
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", TOKEN)
    server.drop_next_pushes(1)
    assert main(["bump-image", "v2", "--repo", url, "--app", "apps/web"]) == 5
    assert "mid-push" in capsys.readouterr().err
    server.stop()
    assert main(["bump-image", "v2", "--repo", url, "--app", "apps/web"]) == 4
    assert "clone" in capsys.readouterr().err


def test_hang_up_after_the_push_landed_is_confirmed_by_a_fetch(
    server: GitServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = seed(server, tmp_path, ["web"])
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", TOKEN)
    server.drop_next_pushes(1, after_apply=True)
    assert main(["bump-image", "v2", "--repo", url, "--app", "apps/web", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pushed"] and data["attempts"] == 1
    assert git(bare(server), "rev-parse", "main") == data["commit"]
    assert [r.status for r in server.log if r.path.endswith("/git-receive-pack")] == [200, 0]


@pytest.mark.slow
def test_eight_processes_on_eight_apps_all_land(server: GitServer, tmp_path: Path) -> None:
    apps = [f"app{i}" for i in range(8)]
    url = seed(server, tmp_path, apps)
    procs = [cli("v2", "--repo", url, "--app", f"apps/{a}", "-o", "json") for a in apps]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    assert [r[0] for r in results] == [0] * 8, [r[2] for r in results]
    commits = {json.loads(r[1])["commit"] for r in results}
    history = git(bare(server), "rev-list", "main").splitlines()
    assert commits <= set(history) and len(history) == 9
    assert git(bare(server), "rev-list", "--merges", "main") == ""
    for app in apps:
        assert f"team/{app}:v2" in git(bare(server), "show", f"main:apps/{app}/rollout.yaml")


@pytest.mark.slow
def test_two_compare_and_swap_processes_exactly_one_lands(
    server: GitServer, tmp_path: Path
) -> None:
    url = seed(server, tmp_path, ["web"])
    procs = [
        cli(tag, "--repo", url, "--app", "apps/web", "--expect-current", "v1")
        for tag in ("v2", "v3")
    ]
    codes = sorted(p.wait(timeout=120) for p in procs)
    errs = [p.communicate()[1] for p in procs]
    assert codes == [0, 5], errs
    assert any("--expect-current v1, but" in e for e in errs)
    assert len(git(bare(server), "rev-list", "main").splitlines()) == 2


@contextmanager
def _keeping_evidence(found: dict[str, str], *args: Any, **kwargs: Any) -> Iterator[Any]:
    """gitrepo.open_workspace, but read the clone's .git/config, reflog and every .git file
    before the temporary directory is removed."""
    with gitrepo.open_workspace(*args, **kwargs) as ws:
        try:
            yield ws
        finally:
            gitdir = ws.root / ".git"
            found["config"] = (gitdir / "config").read_text()
            found["reflog"] = git(ws.root, "reflog", "--all", "--format=%H %gs %B")
            found["all"] = "".join(
                p.read_bytes().decode("latin-1") for p in gitdir.rglob("*") if p.is_file()
            )


def test_secret_canary(
    server: GitServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = seed(server, tmp_path, ["web"])
    host = url.removeprefix("http://")
    record = tmp_path / "record.json"
    seen: list[str] = []
    # success through a URL carrying the credentials, after one lost race
    server.race_next_pushes(1)
    evidence: dict[str, str] = {}
    req = BumpRequest("v2", app="apps/web", repo=f"http://bot:{TOKEN}@{host}", record=record)
    out, err = io.StringIO(), io.StringIO()
    printer = output.Output(json_mode=True, out=out, err=err)
    result = release.bump_image(
        req,
        # team/web is in no registry: no registry check (the tests' pinned environment's value)
        settings=config.resolve({}, environ={"GITOPS_RELEASE_VERIFY_IMAGE": "off"}, cwd=tmp_path),
        out=printer,
        open_workspace=lambda *a, **k: _keeping_evidence(evidence, *a, **k),
    )
    printer.emit(result.text(), result.payload())
    assert result.pushed and result.attempts == 2
    seen += [out.getvalue(), err.getvalue(), record.read_text(), *evidence.values()]
    assert "bot" not in evidence["config"] and evidence["reflog"]
    # success and failures through the CLI, token in the environment
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", TOKEN)
    for args in (
        ["v3", "--repo", url, "--app", "apps/web", "-o", "json", "--record", str(record)],
        ["v4", "--repo", f"http://oauth2:{TOKEN}@{host}", "--app", "apps/nope"],
        ["v4", "--repo", url + "-missing", "--app", "apps/web"],
        ["v4", "--repo", url, "--app", "apps/web", "--expect-current", "v1", "-o", "json"],
    ):
        code = main(["bump-image", *args])
        captured = capsys.readouterr()
        seen += [captured.out, captured.err, record.read_text()]
        assert code in (0, 2, 4, 5)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", TOKEN + "-wrong")
    assert main(["bump-image", "v5", "--repo", url, "--app", "apps/web"]) == 4
    captured = capsys.readouterr()
    seen += [captured.out, captured.err]
    seed_dir = tmp_path / "seed"
    git(seed_dir, "remote", "add", "origin", url)
    (seed_dir / "notes.txt").write_text("n\n")
    gitrepo.commit_paths(seed_dir, ["notes.txt"], "notes")
    wrong = {"GITOPS_RELEASE_GIT_TOKEN": TOKEN + "-wrong"}
    with pytest.raises(RemoteError) as caught:
        push_branch(seed_dir, settings=config.resolve({}, environ=wrong, cwd=tmp_path))
    seen.append(str(caught.value))
    joined = "\n".join(seen)
    assert TOKEN not in joined
    assert "Basic " not in joined
    import base64

    assert base64.b64encode(f"oauth2:{TOKEN}".encode()).decode() not in joined
