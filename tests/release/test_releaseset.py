"""Release sets in ``bump-image --set``: several apps in ONE commit, a trailer group per app,
landed with the re-anchor loop; bad input changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_release.cli import main
from gitops_release.git.repo import Git
from gitops_release.git.trailers import for_path, releases, set_apps
from tests.conftest import ROLLOUT, SERVICE, GitRemote, git

APPS = ("api", "worker", "web")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["bump-image", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def repo(git_remote: GitRemote, monkeypatch: pytest.MonkeyPatch) -> GitRemote:
    for name in APPS:
        app = git_remote.checkout / "apps" / name
        app.mkdir(parents=True)
        (app / "rollout.yaml").write_text(ROLLOUT.format(name=name))
        (app / "service.yaml").write_text(SERVICE)
    git(git_remote.checkout, "add", "apps")
    git(git_remote.checkout, "commit", "-q", "-m", "add three apps")
    git(git_remote.checkout, "push", "-q", "origin", "HEAD")
    monkeypatch.chdir(git_remote.checkout)
    return git_remote


def racing_hook(bare: Path, counter: Path, times: int) -> None:
    """Another writer lands a commit on main just before each of our first ``times`` pushes
    (git then refuses ours: 'cannot lock ref'); the second time it edits a file of the set."""
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "cat > /dev/null\n"
        f'n=$(cat {counter} 2>/dev/null || echo 0); [ "$n" -ge {times} ] && exit 0\n'
        f"echo $((n+1)) > {counter}\n"
        "unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n"
        "tip=$(git rev-parse refs/heads/main)\n"
        'blob=$(echo "other $n" | git hash-object -w --stdin)\n'
        "export GIT_INDEX_FILE=$(mktemp)\n"
        "git read-tree $tip && git update-index --add --cacheinfo 100644,$blob,apps/worker/note-$n.txt\n"
        'c=$(git commit-tree $(git write-tree) -p $tip -m "other writer $n")\n'
        "git update-ref refs/heads/main $c $tip\n"
    )
    hook.chmod(0o755)


def test_a_set_of_three_apps_lands_as_one_commit_while_another_writer_pushes(
    repo: GitRemote, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    racing_hook(repo.bare, tmp_path / "raced", times=2)
    before = {a: (repo.checkout / f"apps/{a}/rollout.yaml").read_bytes() for a in APPS}
    code, out, err = run(
        capsys,
        "--set", "apps/api=v2",
        "--set", "apps/worker=v3:expect=v1",
        "--set", "apps/web=v2",
        "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["changed"] is True and data["pushed"] is True
    assert data["attempts"] == 3
    assert err.count("re-applying the edit") == 2
    assert [a["app"] for a in data["apps"]] == list(APPS)
    assert [a["new_tag"] for a in data["apps"]] == ["v2", "v3", "v2"]
    # one commit on top of the other writer's two; history stays linear
    subjects = git(repo.bare, "log", "--format=%s", "main").splitlines()
    assert subjects[:3] == [
        "release(api, worker, web): api v1 -> v2, worker v1 -> v3, web v1 -> v2",
        "other writer 1",
        "other writer 0",
    ]
    assert git(repo.bare, "rev-list", "--merges", "main") == ""  # linear
    assert git(repo.bare, "rev-parse", "main") == data["commit"]
    changed = git(repo.bare, "show", "--name-only", "--format=", "main").splitlines()
    assert sorted(changed) == [f"apps/{a}/rollout.yaml" for a in sorted(APPS)]
    for a, tag in zip(APPS, ("v2", "v3", "v2"), strict=True):
        after = (repo.checkout / f"apps/{a}/rollout.yaml").read_bytes()
        assert after == before[a].replace(f"team/{a}:v1".encode(), f"team/{a}:{tag}".encode())
    # the other writer's files are there: our edits were re-applied on its tip
    assert (repo.checkout / "apps/worker/note-1.txt").is_file()
    message = git(repo.bare, "log", "-1", "--format=%B", "main")
    assert set_apps(message) == list(APPS)
    worker = for_path(message, "apps/worker")
    assert worker["Release-Image"] == "registry.example.com:5000/team/worker:v3"
    assert worker["Release-Previous"] == "registry.example.com:5000/team/worker:v1"
    # rollback reads each app's own group back from the set's commit
    found = releases(Git(repo.checkout), "apps/web", 10)
    assert found[0].image == "registry.example.com:5000/team/web:v2"
    assert git(repo.checkout, "status", "--porcelain") == ""


def _unchanged(repo: GitRemote, tip: str) -> None:
    assert git(repo.bare, "rev-parse", "main") == tip
    assert git(repo.checkout, "status", "--porcelain") == ""
    assert git(repo.checkout, "rev-parse", "HEAD") == tip


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--set", "apps/api=v2", "--set", "apps/api=v3"], "--set names apps/api twice"),
        (["--set", "apps/api=v2", "--set", "./apps/api/=v3"], "twice"),
        (["--set", "apps/api=v2", "--set", "apps/nope=v2"], "--set apps/nope: "),
        (["v2", "--set", "apps/api=v2"], "--set and the tag 'v2' mixed"),
        (["--set", "apps/api=v2", "--app", "apps/web"], "--set and --app apps/web mixed"),
        (["--set", "apps/api"], "expected APP=TAG[:expect=CURRENT]"),
        (["--set", "apps/api=v2:expect="], "expected APP=TAG[:expect=CURRENT]"),
        (["--set", "apps/api=v2", "--set", "apps/web=bad tag!"], "invalid image tag"),
    ],
)
def test_bad_sets_exit_2_and_write_nothing(
    repo: GitRemote, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    tip = git(repo.bare, "rev-parse", "main")
    code, _, err = run(capsys, *args)
    assert code == 2, err
    assert says in err
    _unchanged(repo, tip)


def test_one_expect_mismatch_lands_none_of_the_set(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    tip = git(repo.bare, "rev-parse", "main")
    code, _, err = run(capsys, "--set", "apps/api=v2", "--set", "apps/web=v2:expect=v0")
    assert code == 5, err
    assert "apps/web/rollout.yaml" in err
    _unchanged(repo, tip)


def test_a_set_dry_run_shows_every_diff_and_changes_nothing(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    tip = git(repo.bare, "rev-parse", "main")
    code, out, err = run(capsys, "--set", "apps/api=v2", "--set", "apps/web=v2", "--dry-run")
    assert code == 0, err
    assert '+          image: "registry.example.com:5000/team/api:v2"' in out
    assert "team/web:v2" in out
    _unchanged(repo, tip)


def test_a_set_over_a_url_clones_once_and_commits_once(
    repo: GitRemote,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys, "--repo", repo.url, "--set", "apps/api=v2", "--set", "apps/web=v2", "-o", "json"
    )
    assert code == 0, err
    assert json.loads(out)["commit"] == git(repo.bare, "rev-parse", "main")
    changed = git(repo.bare, "show", "--name-only", "--format=", "main").splitlines()
    assert sorted(changed) == ["apps/api/rollout.yaml", "apps/web/rollout.yaml"]


def _rollback(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["rollback", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_rollback_set_undoes_the_whole_set_in_one_commit(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "--set", "apps/api=v2", "--set", "apps/worker=v3", "--set", "apps/web=v2",
        "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    release = json.loads(out)["commit"]
    code, out, err = _rollback(capsys, "--set", release[:10], "--dry-run")
    assert code == 0, err
    assert "team/worker:v1" in out and git(repo.bare, "rev-parse", "main") == release
    code, out, err = _rollback(capsys, "--set", release[:10], "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["changed"] is True and data["set"] == list(APPS)
    assert git(repo.bare, "rev-list", "--count", f"{release}..main") == "1"
    subject = git(repo.bare, "log", "-1", "--format=%s", "main")
    assert subject.startswith(f"rollback(api, worker, web): undo release set {release[:8]}")
    assert "[skip ci]" in subject
    for a in APPS:
        text = (repo.checkout / f"apps/{a}/rollout.yaml").read_text()
        assert f"team/{a}:v1" in text
    tip = git(repo.bare, "rev-parse", "main")
    code, out, err = _rollback(capsys, "--set", release, "-o", "json")
    assert code == 0, err
    assert json.loads(out)["changed"] is False
    assert git(repo.bare, "rev-parse", "main") == tip


def test_rollback_set_refuses_when_an_app_moved_on_since(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--set", "apps/api=v2", "--set", "apps/web=v2", "-o", "json")
    assert code == 0, err
    release = json.loads(out)["commit"]
    code, _, err = run(capsys, "v4", "--app", "apps/web")
    assert code == 0, err
    tip = git(repo.bare, "rev-parse", "main")
    code, _, err = _rollback(capsys, "--set", release)
    assert code == 5, err
    assert "apps/web/rollout.yaml" in err and "team/web:v4" in err
    _unchanged(repo, tip)
    code, _, err = _rollback(capsys, "--set", git(repo.bare, "rev-list", "--max-parents=0", "main"))
    assert code == 2, err
    assert "not a release commit" in err
    _unchanged(repo, tip)


def test_a_landed_set_run_again_changes_nothing(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--set", "apps/api=v2", "--set", "apps/web=v2:expect=v1", "-o", "json")
    code, out, err = run(capsys, *args)
    assert code == 0, err
    tip = git(repo.bare, "rev-parse", "main")
    code, out, err = run(capsys, *args)  # the compare-and-swap of a landed set holds too
    assert code == 0, err
    data = json.loads(out)
    assert data["changed"] is False and data["commit"] is None
    assert [a["changed"] for a in data["apps"]] == [False, False]
    _unchanged(repo, tip)
    # one app moved, one already there: the commit carries only the one that moved
    code, out, err = run(capsys, "--set", "apps/api=v2", "--set", "apps/worker=v2", "-o", "json")
    assert code == 0, err
    message = git(repo.bare, "log", "-1", "--format=%B", "main")
    assert "Release-Set: worker" in message and "Release-App: api" not in message


def test_a_set_starts_importing_the_yaml_editor_before_git_clones(
    repo: GitRemote,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As ``bump-image`` of one app does: the import (ruamel.yaml) then overlaps git's clone
    and checkout instead of following them (``bench/bump_set.py``)."""
    from gitops_release.git import repo as git_repo
    from gitops_release.release import releaseset

    events: list[str] = []
    monkeypatch.setattr(releaseset, "preload_module", events.append)
    real = git_repo.open_workspace

    def opener(*args: object, **kwargs: object) -> object:
        events.append("clone")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(git_repo, "open_workspace", opener)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "--repo", repo.url, "--set", "apps/api=v2", "--set", "apps/web=v2")
    assert code == 0, err
    assert events == ["gitops_release.yaml.edit", "clone"]


def test_a_set_on_a_bare_repositorys_path_is_cloned_like_a_url(
    repo: GitRemote,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--repo /srv/git/gitops.git`` is cloned (it has no work tree), as for one app: the clone
    holds every member's directory, and --no-push is refused (the clone is thrown away)."""
    monkeypatch.chdir(tmp_path)
    bare = str(repo.bare)
    code, out, err = run(
        capsys, "--repo", bare, "--set", "apps/api=v2", "--set", "apps/web=v2", "-o", "json"
    )
    assert code == 0, err
    assert json.loads(out)["commit"] == git(repo.bare, "rev-parse", "main")
    changed = git(repo.bare, "show", "--name-only", "--format=", "main").splitlines()
    assert sorted(changed) == ["apps/api/rollout.yaml", "apps/web/rollout.yaml"]
    tip = git(repo.bare, "rev-parse", "main")
    code, _, err = run(capsys, "--repo", bare, "--set", "apps/api=v3", "--no-push")
    assert code == 2 and "--no-push with a repository URL" in err, err
    assert git(repo.bare, "rev-parse", "main") == tip
