"""``BumpRequest.pin_where_read`` (``env promote``'s pinning): a digest goes into the files only
where they read one; a Helm values image without a ``digest`` key gets the tag alone, and the
digest still goes into the ``Release-Digest`` trailer. Without it such a file is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_release.errors import UsageError
from gitops_release.release.bump import bump_image
from gitops_release.release.edit import BumpRequest
from tests.conftest import GitRemote, git

DIGEST = "sha256:" + "ab" * 32
VALUES = "image:\n  repository: team/web\n  tag: v1\n"
ROLLOUT = "kind: Rollout\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: team/web:v1\n"


@pytest.fixture
def repo(git_remote: GitRemote, monkeypatch: pytest.MonkeyPatch) -> GitRemote:
    chart = git_remote.checkout / "charts" / "web"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(VALUES)
    plain = git_remote.checkout / "apps" / "web"
    plain.mkdir(parents=True)
    (plain / "rollout.yaml").write_text(ROLLOUT)
    git(git_remote.checkout, "add", ".")
    git(git_remote.checkout, "commit", "-q", "-m", "web")
    git(git_remote.checkout, "push", "-q", "origin", "HEAD")
    monkeypatch.chdir(git_remote.checkout)
    return git_remote


def test_a_values_image_without_a_digest_key_gets_the_tag_and_the_trailer_the_digest(
    repo: GitRemote,
) -> None:
    req = BumpRequest(tag_or_ref=f"team/web:v2@{DIGEST}", app="charts/web", pin_where_read=True)
    result = bump_image(req)
    assert result.changed and result.digest == DIGEST
    values = (repo.checkout / "charts/web/values.yaml").read_text()
    assert values == VALUES.replace("tag: v1", "tag: v2")
    assert f"Release-Digest: {DIGEST}" in git(repo.bare, "log", "-1", "--format=%B", "main")


def test_a_one_string_image_is_pinned(repo: GitRemote) -> None:
    req = BumpRequest(tag_or_ref=f"team/web:v2@{DIGEST}", app="apps/web", pin_where_read=True)
    bump_image(req)
    text = (repo.checkout / "apps/web/rollout.yaml").read_text()
    assert f"image: team/web:v2@{DIGEST}" in text


def test_without_it_the_values_file_is_refused(repo: GitRemote) -> None:
    tip = git(repo.bare, "rev-parse", "main")
    with pytest.raises(UsageError, match="no digest key"):
        bump_image(BumpRequest(tag_or_ref=f"team/web:v2@{DIGEST}", app="charts/web"))
    assert git(repo.bare, "rev-parse", "main") == tip
    assert (Path(repo.checkout) / "charts/web/values.yaml").read_text() == VALUES
