"""bump-image end to end on real checkouts and bare remotes (the HTTP server: test_bump_http.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gitops_release.cli import main
from tests.conftest import ROLLOUT, SERVICE, GitRemote, git

TWO_IMAGES = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: team/migrate:1.0
      containers:
        - name: web
          image: team/shop:v1
---
apiVersion: v1
kind: Service
metadata:
  name: shop
"""


def add_app(checkout: Path, name: str, *, push: bool = True, text: str | None = None) -> Path:
    app = checkout / "apps" / name
    app.mkdir(parents=True, exist_ok=True)
    (app / "rollout.yaml").write_text(text or ROLLOUT.format(name=name))
    (app / "service.yaml").write_text(SERVICE)
    git(checkout, "add", str(app))
    git(checkout, "commit", "-q", "-m", f"add {name}")
    if push:
        git(checkout, "push", "-q", "origin", "HEAD")
    return app


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["bump-image", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def repo(git_remote: GitRemote, monkeypatch: pytest.MonkeyPatch) -> GitRemote:
    add_app(git_remote.checkout, "web")
    monkeypatch.chdir(git_remote.checkout)
    return git_remote


def test_bump_local_checkout_changes_only_the_value(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (repo.checkout / "apps/web/rollout.yaml").read_bytes()
    code, out, err = run(capsys, "v2", "--app", "apps/web", "--skip-ci", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    after = (repo.checkout / "apps/web/rollout.yaml").read_bytes()
    assert after == before.replace(b"team/web:v1", b"team/web:v2")
    assert data["changed"] is True and data["pushed"] is True
    assert data["file"] == "apps/web/rollout.yaml"
    assert data["yaml_path"] == "spec.template.spec.containers[0].image"
    assert (data["old"], data["new"]) == (
        "registry.example.com:5000/team/web:v1",
        "registry.example.com:5000/team/web:v2",
    )
    assert git(repo.bare, "rev-parse", "main") == data["commit"]
    message = git(repo.bare, "log", "-1", "--format=%B", "main")
    assert message.splitlines()[0] == (
        "release(web): registry.example.com:5000/team/web v1 -> v2 [skip ci]"
    )
    trailers = git(repo.bare, "log", "-1", "--format=%(trailers:only,unfold)", "main")
    assert "Release-App: web" in trailers
    assert "Release-Image: registry.example.com:5000/team/web:v2" in trailers
    assert "Release-Previous: registry.example.com:5000/team/web:v1" in trailers
    assert git(repo.bare, "show", "--name-only", "--format=", "main") == "apps/web/rollout.yaml"


def test_already_at_value_commits_nothing(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    tip = git(repo.bare, "rev-parse", "main")
    code, out, _ = run(capsys, "v1", "--app", "apps/web")
    assert code == 0
    assert "already at v1" in out
    code, out, _ = run(capsys, "v1", "--app", "apps/web", "-o", "json")
    assert json.loads(out)["changed"] is False
    assert git(repo.bare, "rev-parse", "main") == tip


def test_dry_run_prints_diff_and_changes_nothing(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    tip = git(repo.bare, "rev-parse", "main")
    code, out, _ = run(capsys, "v2", "--app", "apps/web", "--dry-run")
    assert code == 0
    assert '-          image: "registry.example.com:5000/team/web:v1"' in out
    assert '+          image: "registry.example.com:5000/team/web:v2"' in out
    assert git(repo.checkout, "status", "--porcelain") == ""
    assert git(repo.checkout, "rev-parse", "HEAD") == tip == git(repo.bare, "rev-parse", "main")


def test_dirty_tree_and_detached_head_are_refused(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo.checkout / "apps/web/service.yaml").write_text(SERVICE + "# local edit\n")
    code, _, err = run(capsys, "v2", "--app", "apps/web")
    assert code == 2
    assert "uncommitted changes in apps/web/service.yaml" in err
    git(repo.checkout, "checkout", "-q", "--", ".")
    git(repo.checkout, "checkout", "-q", "--detach")
    code, _, err = run(capsys, "v2", "--app", "apps/web")
    assert code == 2 and "detached HEAD" in err


def test_behind_is_fast_forwarded_and_judged_on_the_remote_tip(
    repo: GitRemote, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = repo.clone(tmp_path / "other")
    rollout = other / "apps/web/rollout.yaml"
    rollout.write_text(rollout.read_text().replace(":v1", ":v2"))
    git(other, "commit", "-q", "-am", "v2 elsewhere")
    git(other, "push", "-q", "origin", "main")
    code, out, _ = run(capsys, "v2", "--app", "apps/web", "-o", "json")
    assert code == 0 and json.loads(out)["changed"] is False
    assert git(repo.checkout, "rev-parse", "HEAD") == git(repo.bare, "rev-parse", "main")


def test_ahead_is_refused_naming_commits_unless_no_push(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo.checkout / "notes.txt").write_text("n\n")
    git(repo.checkout, "add", "notes.txt")
    git(repo.checkout, "commit", "-q", "-m", "unpushed notes")
    code, _, err = run(capsys, "v2", "--app", "apps/web")
    assert code == 2
    assert "ahead of origin/main" in err and "unpushed notes" in err
    remote_tip = git(repo.bare, "rev-parse", "main")
    code, out, err = run(capsys, "v2", "--app", "apps/web", "--no-push", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["pushed"] is False and data["commit"] == git(repo.checkout, "rev-parse", "HEAD")
    assert git(repo.bare, "rev-parse", "main") == remote_tip


def test_ambiguous_image_lists_candidates_and_container_picks(
    git_remote: GitRemote, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add_app(git_remote.checkout, "shop", text=TWO_IMAGES)
    monkeypatch.chdir(git_remote.checkout)
    code, _, err = run(capsys, "v2", "--app", "apps/shop")
    assert code == 2
    assert "team/migrate" in err and "team/shop" in err
    assert "apps/shop/rollout.yaml:10" in err  # file:line of a candidate
    code, out, err = run(capsys, "v2", "--app", "apps/shop", "--container", "web", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["new"] == "team/shop:v2"
    code, out, err = run(capsys, "1.1", "--app", "apps/shop", "--image-name", "team/migrate")
    assert code == 0, err
    text = (git_remote.checkout / "apps/shop/rollout.yaml").read_text()
    assert "image: team/migrate:1.1" in text and "image: team/shop:v2" in text
    code, _, err = run(capsys, "v3", "--app", "apps/shop", "--container", "nope")
    assert code == 2 and "container 'nope'" in err


def test_paths_escaping_the_repository_are_refused(
    repo: GitRemote, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "rollout.yaml").write_text(ROLLOUT.format(name="evil"))
    for app in ("../outside", str(outside), "apps/../../outside"):
        code, _, err = run(capsys, "v2", "--app", app)
        assert code == 2, app
        assert "outside the repository" in err
    os.symlink(outside, repo.checkout / "apps" / "link")
    (repo.checkout / "apps/web/extra.yaml").symlink_to(outside / "rollout.yaml")
    git(repo.checkout, "add", "apps")
    git(repo.checkout, "commit", "-q", "-m", "links")
    git(repo.checkout, "push", "-q", "origin", "main")
    code, _, err = run(capsys, "v2", "--app", "apps/link")
    assert code == 2 and "outside the repository" in err
    code, _, err = run(capsys, "v2", "--app", "apps/web")
    assert code == 2 and "symlink" in err
    assert (outside / "rollout.yaml").read_text() == ROLLOUT.format(name="evil")


def test_empty_app_is_refused_not_taken_as_the_whole_repository(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    before = git(repo.checkout, "rev-parse", "HEAD")
    for app in ("", "  "):
        code, _, err = run(capsys, "v2", "--app", app)
        assert code == 2, repr(app)
        assert "--app is empty" in err and "--app ." in err
    code, _, err = run(capsys, "v2", "--repo", repo.bare.as_uri(), "--app", "")
    assert code == 2 and "--app is empty" in err
    assert git(repo.checkout, "rev-parse", "HEAD") == before


def test_expect_current_mismatch_exits_5_naming_both(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "v3", "--app", "apps/web", "--expect-current", "v2")
    assert code == 5
    assert "--expect-current v2" in err and "team/web:v1" in err
    code, _, err = run(capsys, "v3", "--app", "apps/web", "--expect-current", "v1")
    assert code == 0, err


def test_record_file(repo: GitRemote, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "release.json"
    code, _, err = run(capsys, "v2", "--app", "apps/web", "--record", str(record))
    assert code == 0, err
    data = json.loads(record.read_text())
    assert data["kind"] == "bump-image"
    assert (data["previous_tag"], data["new_tag"], data["pushed"]) == ("v1", "v2", True)
    assert data["commit"] == git(repo.bare, "rev-parse", "main")


def test_protected_branch_exits_4_and_leaves_checkout_clean(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = repo.bare / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\necho 'GitLab: You are not allowed to push code to protected branches on this project.'\nexit 1\n"
    )
    hook.chmod(0o755)
    tip = git(repo.bare, "rev-parse", "main")
    code, _, err = run(capsys, "v2", "--app", "apps/web")
    assert code == 4
    assert "protected branches" in err and "--merge-request" in err
    assert git(repo.checkout, "rev-parse", "HEAD") == tip
    assert git(repo.checkout, "status", "--porcelain") == ""


def test_merge_request_pushes_a_branch_with_push_options(
    repo: GitRemote, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo.bare, "config", "receive.advertisePushOptions", "true")
    seen = tmp_path / "options.txt"
    hook = repo.bare / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\ncat > /dev/null\n"
        f'i=0; while [ $i -lt "${{GIT_PUSH_OPTION_COUNT:-0}}" ]; do eval "echo \\$GIT_PUSH_OPTION_$i" >> {seen}; i=$((i+1)); done\n'
    )
    hook.chmod(0o755)
    tip = git(repo.bare, "rev-parse", "main")
    code, out, err = run(capsys, "v2", "--app", "apps/web", "--merge-request", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    branch = data["merge_request_branch"]
    assert branch.startswith("gitops-release/web-v2-")
    assert git(repo.bare, "rev-parse", "main") == tip
    assert git(repo.bare, "rev-parse", branch) == data["commit"]
    options = seen.read_text().splitlines()
    assert "merge_request.create" in options
    assert "merge_request.target=main" in options
    assert any(o.startswith("merge_request.title=release(web)") for o in options)


def test_url_repo_uses_a_temporary_partial_sparse_clone(
    repo: GitRemote,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    add_app(repo.checkout, "api")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    code, out, err = run(capsys, "v2", "--repo", repo.url, "--app", "apps/api", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["pushed"] is True
    assert list(scratch.iterdir()) == []
    assert "team/api:v2" in git(repo.bare, "show", "main:apps/api/rollout.yaml")
    assert "team/web:v1" in git(repo.bare, "show", "main:apps/web/rollout.yaml")
    code, _, err = run(capsys, "v2", "--repo", repo.url, "--app", "apps/nope")
    assert code == 2 and "apps/nope: not found" in err
    code, _, err = run(capsys, "v2", "--repo", repo.url, "--app", "../x")
    assert code == 2
    code, _, err = run(capsys, "v2", "--repo", repo.url, "--app", "apps/api", "--no-push")
    assert code == 2 and "--dry-run" in err


def test_bad_tag_is_usage_error(repo: GitRemote, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-bad", "--app", "apps/web")
    assert code == 2
    code, _, err = run(capsys, "v 2", "--app", "apps/web")
    assert code == 2 and "invalid image tag" in err


def test_url_repo_with_a_file_path_and_odd_names(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = repo.checkout / "apps" / "odd #1"
    odd.mkdir(parents=True)
    (odd / "rollout.yaml").write_text(ROLLOUT.format(name="odd"))
    git(repo.checkout, "add", "apps")
    git(repo.checkout, "commit", "-q", "-m", "odd")
    git(repo.checkout, "push", "-q", "origin", "main")
    code, out, err = run(
        capsys, "v2", "--repo", repo.url, "--app", "apps/web/rollout.yaml", "-o", "json"
    )
    assert code == 0, err
    assert json.loads(out)["file"] == "apps/web/rollout.yaml"
    code, _, err = run(capsys, "v2", "--repo", repo.url, "--app", "apps/odd #1")
    assert code == 0, err
    assert "team/odd:v2" in git(repo.bare, "show", "main:apps/odd #1/rollout.yaml")


def test_diverged_is_refused_naming_our_commit(
    repo: GitRemote, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = repo.clone(tmp_path / "other")
    (other / "theirs.txt").write_text("t\n")
    git(other, "add", "theirs.txt")
    git(other, "commit", "-q", "-m", "their commit")
    git(other, "push", "-q", "origin", "main")
    (repo.checkout / "mine.txt").write_text("m\n")
    git(repo.checkout, "add", "mine.txt")
    git(repo.checkout, "commit", "-q", "-m", "my local commit")
    code, _, err = run(capsys, "v2", "--app", "apps/web")
    assert code == 2
    assert "diverged from origin/main" in err and "my local commit" in err


def test_rollout_with_workload_ref_elsewhere_says_where_to_look(
    git_remote: GitRemote, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: web\nspec:\n"
        "  workloadRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: web-base\n"
    )
    add_app(git_remote.checkout, "web", text=text)
    monkeypatch.chdir(git_remote.checkout)
    code, _, err = run(capsys, "v2", "--app", "apps/web")
    assert code == 2
    assert "Deployment web-base (workloadRef)" in err


def test_local_branch_tracking_a_differently_named_remote_branch(
    repo: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo.checkout, "push", "-q", "origin", "main:release")
    git(repo.checkout, "checkout", "-q", "-b", "rel", "--track", "origin/release")
    main_tip = git(repo.bare, "rev-parse", "main")
    code, out, err = run(capsys, "v2", "--app", "apps/web", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["branch"] == "release"
    assert git(repo.bare, "rev-parse", "release") == data["commit"]
    assert git(repo.bare, "rev-parse", "main") == main_tip
    code, out, _ = run(capsys, "v2", "--app", "apps/web", "--branch", "release", "-o", "json")
    assert code == 0 and json.loads(out)["changed"] is False
    code, _, err = run(capsys, "v2", "--app", "apps/web", "--branch", "main")
    assert code == 2 and "--branch says 'main'" in err


def test_re_anchor_on_a_bare_remote_when_a_hook_lands_a_commit_first(
    repo: GitRemote, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pre-receive hook moves main under our push twice (git then says 'cannot lock ref');
    bump-image drops only its commit, re-applies the edit on the new tip and lands."""
    counter = tmp_path / "raced"
    hook = repo.bare / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "cat > /dev/null\n"
        f'n=$(cat {counter} 2>/dev/null || echo 0); [ "$n" -ge 2 ] && exit 0\n'
        f"echo $((n+1)) > {counter}\n"
        "unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n"
        "tip=$(git rev-parse refs/heads/main)\n"
        'blob=$(echo "other $n" | git hash-object -w --stdin)\n'
        "export GIT_INDEX_FILE=$(mktemp)\n"
        "git read-tree $tip && git update-index --add --cacheinfo 100644,$blob,other-$n.txt\n"
        'c=$(git commit-tree $(git write-tree) -p $tip -m "other writer $n")\n'
        "git update-ref refs/heads/main $c $tip\n"
    )
    hook.chmod(0o755)
    code, out, err = run(capsys, "v2", "--app", "apps/web", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["attempts"] == 3
    assert err.count("re-applying the edit") == 2
    log = git(repo.bare, "log", "--format=%s", "main").splitlines()
    assert log[:3] == [
        "release(web): registry.example.com:5000/team/web v1 -> v2",
        "other writer 1",
        "other writer 0",
    ]
    assert git(repo.checkout, "rev-parse", "HEAD") == data["commit"]
    assert git(repo.checkout, "status", "--porcelain") == ""


def test_a_bare_repository_path_is_cloned_like_a_url(
    repo: GitRemote,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 14, item 12: ``--repo /srv/git/gitops.git`` said "not inside a git checkout".
    git takes a bare repository's path as a remote (``git clone /srv/git/gitops.git``), and so
    does bump-image: cloned, edited, pushed back; run from a directory that is no checkout."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = run(capsys, "v2", "--repo", str(repo.bare), "--app", "apps/web", "-o", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["pushed"] is True and data["commit"] == git(repo.bare, "rev-parse", "main")
    assert "team/web:v2" in git(repo.bare, "show", "main:apps/web/rollout.yaml")
    assert list(elsewhere.iterdir()) == []
