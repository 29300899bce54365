"""``release/deploy.py`` on its own: input refused before any request, and the result a CI job
reads (text, JSON, dotenv)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_release.argo.connection import Connection
from gitops_release.errors import UsageError
from gitops_release.output import Output
from gitops_release.record import DOTENV_KEYS
from gitops_release.release.deploy import DeployRequest, DeployResult, deploy


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (DeployRequest("not a tag!", app="myapp"), "invalid image tag"),
        (DeployRequest("v2", app="myapp", expect="("), "--expect"),
        (DeployRequest("v2", app="myapp", record=Path("/nonexistent/dir/r.json")), "--record"),
    ],
)
def test_bad_input_is_refused_before_argo_cd_is_asked(
    request_: DeployRequest, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        deploy(Connection(environ={}), request_, out=Output())  # no server: it never gets there


def test_the_result_as_text_json_and_dotenv() -> None:
    result = DeployResult(
        app="myapp",
        outcome="preview-ready",
        new_image="ikubernetes/myapp:v2",
        previous_tag="v1",
        new_tag="v2",
        release_commit="abc123",
        preview_url="http://test.myapp.com",
        rollout_revision=2,
    )
    assert result.text() == (
        "myapp: ikubernetes/myapp:v2 is preview-ready (preview http://test.myapp.com); "
        "promote with `gitops-release promote myapp`"
    )
    assert result.payload()["checks"] == [] and result.payload()["outcome"] == "preview-ready"
    env = result.dotenv()
    assert tuple(env) == DOTENV_KEYS
    assert env["RELEASE_COMMIT"] == "abc123" and env["ROLLOUT_REVISION"] == 2
