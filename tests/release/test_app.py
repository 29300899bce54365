"""``release/app.py`` on its own: where the release writes (the Application's source, or the
overrides) and when the Application itself would hide a Git change."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_release.argo.connection import Connection
from gitops_release.argo.model import Application
from gitops_release.errors import UsageError
from gitops_release.output import Output
from gitops_release.release.app import ReleaseApp


def release_app(source: dict[str, Any], **overrides: Any) -> ReleaseApp:
    raw = {"metadata": {"name": "myapp"}, "spec": {"source": source}}
    return ReleaseApp(
        Connection(environ={}),
        "myapp",
        Output(),
        raw=raw,
        app=Application.from_json(raw),
        **overrides,
    )


def test_the_source_is_the_applications_unless_overridden() -> None:
    git_source = {
        "repoURL": "https://git.example/gitops.git",
        "path": "apps/myapp",
        "targetRevision": "main",
    }
    assert release_app(git_source).source == (
        "https://git.example/gitops.git",
        "apps/myapp",
        "main",
    )
    head = release_app({**git_source, "targetRevision": "HEAD"})
    assert head.source == ("https://git.example/gitops.git", "apps/myapp", None)
    mine = release_app(git_source, repo="/work/gitops", path="myapp")
    assert mine.source == ("/work/gitops", "myapp", "main")


def test_a_source_without_git_needs_repo_and_path() -> None:
    helm = release_app({"repoURL": "https://charts.example", "chart": "myapp"}, repo=None)
    helm.app = Application(name="myapp")
    with pytest.raises(UsageError, match="has no Git source"):
        _ = helm.source


def test_an_image_override_in_the_application_is_refused() -> None:
    kustomize = release_app({"repoURL": "r", "kustomize": {"images": ["ikubernetes/myapp:v9"]}})
    assert kustomize.app_overrides() == "spec.source.kustomize.images (ikubernetes/myapp:v9)"
    with pytest.raises(UsageError, match="overrides the image in Argo CD itself"):
        kustomize.refuse_app_overrides()
    helm = release_app(
        {"repoURL": "r", "helm": {"parameters": [{"name": "image.tag", "value": "v9"}]}}
    )
    assert helm.app_overrides() == "spec.source.helm.parameters (image.tag)"
    plain = release_app(
        {"repoURL": "r", "helm": {"parameters": [{"name": "replicas", "value": "3"}]}}
    )
    assert plain.app_overrides() is None
    plain.refuse_app_overrides()


def test_helm_values_in_the_application_that_set_the_image_are_overrides() -> None:
    obj = release_app({"repoURL": "r", "helm": {"valuesObject": {"web": {"image": {"tag": "v9"}}}}})
    assert obj.app_overrides() == "spec.source.helm.valuesObject (web.image)"
    with pytest.raises(UsageError, match=r"helm.valuesObject \(web.image\)"):
        obj.refuse_app_overrides()
    text = release_app({"repoURL": "r", "helm": {"values": "image:\n  tag: v9\nreplicas: 2\n"}})
    assert text.app_overrides() == "spec.source.helm.values (image)"
    plain = release_app({"repoURL": "r", "helm": {"values": "replicas: 2\n", "valuesObject": {}}})
    assert plain.app_overrides() is None
    pulls = {"imagePullSecrets": [{"name": "regcred"}], "image": {"pullPolicy": "Always"}}
    policy = release_app({"repoURL": "r", "helm": {"valuesObject": pulls}})
    assert policy.app_overrides() is None
    param = [{"name": "image.pullPolicy", "value": "Always"}]
    assert release_app({"repoURL": "r", "helm": {"parameters": param}}).app_overrides() is None


def test_the_applications_value_files_are_read() -> None:
    helm = {"valueFiles": ["values.yaml", "../envs/prod/values.yaml"]}
    assert release_app({"repoURL": "r", "path": "chart", "helm": helm}).value_files == (
        "values.yaml",
        "../envs/prod/values.yaml",
    )
    assert release_app({"repoURL": "r", "path": "plain"}).value_files == ()
