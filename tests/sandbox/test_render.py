"""The sandbox's repo-server: which tools it found, and what it says when one is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_release.sandbox.manifests import ManifestError
from gitops_release.sandbox.render import Tools, find_tools, render
from gitops_release.sandbox.server import Sandbox, SandboxConfig

CHART = {
    "chart/Chart.yaml": b"apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "chart/values.yaml": b"image: team/web:v1\n",
    "chart/templates/pod.yaml": b"apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
    b"spec: {containers: [{name: web, image: '{{ .Values.image }}'}]}\n",
}


def test_missing_tools_are_named_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITOPS_RELEASE_HELM", str(tmp_path / "no-helm"))
    monkeypatch.setenv("GITOPS_RELEASE_KUBECTL", str(tmp_path / "no-kubectl"))
    assert find_tools({"GITOPS_RELEASE_HELM": str(tmp_path / "no-helm")}).helm is None
    sb = Sandbox(SandboxConfig(time_scale=0.01, state_dir=tmp_path / "state"))
    sb.start()
    try:
        err = capsys.readouterr().err
    finally:
        sb.stop()
    assert "sandbox: helm not found" in err and "Helm charts cannot render" in err
    assert "sandbox: kubectl not found" in err and "built-in subset" in err


def test_a_chart_without_helm_is_a_comparison_error() -> None:
    with pytest.raises(ManifestError, match="chart: a Helm chart, and helm is not installed"):
        render(Tools(None, None), {"path": "chart"}, CHART, app="web", namespace="default")
