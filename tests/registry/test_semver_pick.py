"""``bump-image --semver RANGE``: the highest tag in the real registry that satisfies the range
(npm rules through node-semver; pre-releases only when the range names one); ``--dry-run`` shows
the candidates and the choice; with ``--expect-current`` it is a safe "newest patch" for CI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from gitops_release.cli import main
from gitops_release.errors import UsageError
from gitops_release.registry.ranges import pick_tag
from tests.conftest import GitRemote, git

if TYPE_CHECKING:
    from tests.registry.conftest import Registry

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: {image}
"""
TAGS = ["v1.3.9", "v1.4.2", "v1.4.10", "v1.5.0-rc.1", "v1.9.2", "v2.0.0", "latest", "main-abc"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["bump-image", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def app(registry: Registry, git_remote: GitRemote) -> Path:
    for tag in TAGS:
        registry.push("team/web", tag)
    path = git_remote.checkout / "apps/web"
    path.mkdir(parents=True)
    (path / "deployment.yaml").write_text(
        DEPLOYMENT.format(image=f"{registry.host}/team/web:v1.4.2")
    )
    git(git_remote.checkout, "add", ".")
    git(git_remote.checkout, "commit", "-q", "-m", "add web")
    git(git_remote.checkout, "push", "-q", "origin", "HEAD")
    return path / "deployment.yaml"


def test_the_highest_tag_in_the_range_is_written(
    registry: Registry, git_remote: GitRemote, app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(git_remote.checkout)
    code, out, err = run(capsys, "--semver", "^1.4", "--app", "apps/web", "--repo", repo,
                         "--dry-run")  # fmt: skip
    assert code == 0, err
    assert out.startswith("--semver ^1.4: candidates v1.9.2, v1.4.10, v1.4.2; choice v1.9.2\n")
    assert f"+          image: {registry.host}/team/web:v1.9.2" in out
    assert "v1.4.2" in app.read_text()  # --dry-run changed nothing

    code, out, err = run(capsys, "--semver", "^1.4", "--app", "apps/web", "--repo", repo,
                         "-o", "json")  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["semver"] == {
        "range": "^1.4", "candidates": ["v1.9.2", "v1.4.10", "v1.4.2"], "choice": "v1.9.2"
    }  # fmt: skip
    assert app.read_text() == DEPLOYMENT.format(image=f"{registry.host}/team/web:v1.9.2")


def test_newest_patch_with_expect_current_is_a_compare_and_swap(
    registry: Registry, git_remote: GitRemote, app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(git_remote.checkout)
    code, _out, err = run(capsys, "--semver", "~1.4", "--expect-current", "v1.4.0",
                          "--app", "apps/web", "--repo", repo)  # fmt: skip
    assert code == 5, err  # Git holds v1.4.2, not v1.4.0: nothing written
    assert "v1.4.2" in app.read_text()
    code, _out, err = run(capsys, "--semver", "~1.4", "--expect-current", "v1.4.2",
                          "--app", "apps/web", "--repo", repo)  # fmt: skip
    assert code == 0, err
    assert app.read_text() == DEPLOYMENT.format(image=f"{registry.host}/team/web:v1.4.10")


def test_no_tag_in_range_or_a_bad_range_exits_2_and_writes_nothing(
    registry: Registry, git_remote: GitRemote, app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(git_remote.checkout)
    before = app.read_bytes()
    code, _out, err = run(capsys, "--semver", "^3", "--app", "apps/web", "--repo", repo)
    assert code == 2, err
    assert f"no tag of {registry.host}/team/web satisfies '^3' (highest: v2.0.0, v1.9.2" in err
    code, _out, err = run(capsys, "--semver", "one((", "--app", "apps/web", "--repo", repo)
    assert code == 2 and "not a semver range" in err, err
    code, _out, err = run(capsys, "v2", "--semver", "^1", "--app", "apps/web", "--repo", repo)
    assert code == 2 and "is a tag too" in err, err
    assert app.read_bytes() == before


def test_pre_releases_only_when_the_range_names_one() -> None:
    assert pick_tag(TAGS, "^1.4", image="x").candidates == ["v1.9.2", "v1.4.10", "v1.4.2"]
    assert pick_tag(TAGS, ">=1.5.0-rc.0 <1.6", image="x").choice == "v1.5.0-rc.1"
    assert pick_tag(TAGS, "~1.3", image="x").choice == "v1.3.9"
    with pytest.raises(UsageError):
        pick_tag(["latest", "main-abc"], "*", image="x")
