"""``release/control.py`` on its own: what ``app create`` reads from the file before it talks to
Argo CD, and how the command results read."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_release.argo.connection import Connection
from gitops_release.argo.model import Rollout
from gitops_release.argo.rollouts import ActionResult
from gitops_release.argo.types import Action
from gitops_release.errors import UsageError
from gitops_release.release.control import Acted, Applied, Deleted, app_create


def create(tmp_path: Path, text: str) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(text)
    app_create(Connection(environ={}), path)  # no server: it must fail before needing one


def test_a_file_without_an_application_is_refused_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no kind: Application"):
        create(tmp_path, "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n")
    with pytest.raises(UsageError, match=r"apiVersion must be argoproj\.io"):
        create(tmp_path, "apiVersion: v1\nkind: Application\nmetadata: {name: web}\n")
    with pytest.raises(UsageError, match=r"without metadata\.name"):
        create(tmp_path, "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {}\n")
    with pytest.raises(UsageError, match="cannot read"):
        app_create(Connection(environ={}), tmp_path / "missing.yaml")


def test_results_say_the_same_in_text_and_json() -> None:
    applied = Applied([{"name": "a", "action": "unchanged"}, {"name": "b", "action": "created"}])
    assert applied.text() == "application a unchanged\napplication b created"
    assert applied.payload()["changed"] is True
    assert Applied([{"name": "a", "action": "would create"}]).payload()["changed"] is False
    assert Deleted("a", gone=False, waited=True).text() == "application a deleting"
    assert Deleted("a", gone=False, waited=False).text() == "application a deleted"
    ro = Rollout(name="web", namespace="prod", phase="Paused")
    acted = Acted("myapp", ActionResult(Action.promote, "rollout prod/web", True, "done", ro, ro))
    assert acted.text() == "done"
    assert acted.payload() == {
        "app": "myapp",
        "rollout": "prod/web",
        "action": "promote",
        "changed": True,
        "message": "done",
        "phase": "Paused",
    }
