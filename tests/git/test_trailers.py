"""``git/trailers.py``: the release commit is written and read back by the same module."""

from __future__ import annotations

from pathlib import Path

from gitops_release.git.repo import Git
from gitops_release.git.trailers import (
    commit_at,
    parse,
    release_message,
    releases,
    revert_subject,
    rollback_subject,
)
from tests.conftest import git


def test_what_is_written_is_read_back() -> None:
    message = release_message(
        "release(myapp): ikubernetes/myapp v1 -> v2",
        app="myapp",
        path="apps/myapp",
        image="ikubernetes/myapp:v2",
        previous="ikubernetes/myapp:v1",
    )
    assert message.endswith("Release-Previous: ikubernetes/myapp:v1\n")
    assert parse(message) == {
        "Release-App": "myapp",
        "Release-Image": "ikubernetes/myapp:v2",
        "Release-Previous": "ikubernetes/myapp:v1",
    }
    first = release_message("release(myapp): v1", app="myapp", path=".", image="x:v1", previous="")
    assert "Release-Previous" not in first


def test_releases_newest_first_with_reverts_marked(tmp_path: Path) -> None:
    repo = tmp_path / "gitops"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    (repo / "myapp").mkdir()
    steps = [
        ("release(myapp): v1", "x:v1", ""),
        ("release(myapp): v2", "x:v2", "x:v1"),
        (revert_subject("myapp", "v1", "v2 failed"), "x:v1", "x:v2"),
        (rollback_subject("myapp", "v1", "v0"), "x:v0", "x:v1"),
    ]
    for subject, image, previous in steps:
        (repo / "myapp" / "rollout.yaml").write_text(f"image: {image}\n# {subject}\n")
        git(repo, "add", ".")
        message = release_message(
            subject, app="myapp", path="myapp", image=image, previous=previous
        )
        git(repo, "commit", "-q", "-m", message)
    (repo / "README.md").write_text("not the app\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "docs")
    run = Git(repo)
    found = releases(run, "myapp", depth=10)
    assert [(r.image, r.previous, r.revert) for r in found] == [
        ("x:v0", "x:v1", False),
        ("x:v1", "x:v2", True),
        ("x:v2", "x:v1", False),
        ("x:v1", "", False),
    ]
    tip = git(repo, "rev-parse", "HEAD")
    commit = commit_at(run, tip, "myapp")  # the newest commit at or before tip touching myapp
    assert commit is not None and commit["message"].startswith("rollback(myapp): v1 -> v0")
    assert commit["author"] == "Test Author"
    assert commit_at(run, "0" * 40, "myapp") is None
