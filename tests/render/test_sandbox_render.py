"""The sandbox's repo-server with the real helm: multi-source ``$values`` files."""

from __future__ import annotations

import pytest

from gitops_release.sandbox.manifests import ManifestError
from gitops_release.sandbox.render import Tools, render
from tests.render.conftest import Tool

CHART = {
    "chart/Chart.yaml": b"apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "chart/values.yaml": b"image: team/web:v1\n",
    "chart/templates/pod.yaml": b"apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
    b"spec: {containers: [{name: web, image: '{{ .Values.image }}'}]}\n",
}


def test_a_multi_source_chart_reads_values_from_the_ref_source(helm: Tool) -> None:
    tools = Tools(kubectl=None, helm=str(helm.path))
    values = {"envs/prod/values.yaml": b"image: team/web:v2\n"}
    source = {"path": "chart", "helm": {"valueFiles": ["$values/envs/prod/values.yaml"]}}
    objects, kind = render(
        tools, source, CHART, app="web", namespace="prod", refs={"values": values}
    )
    assert kind == "Helm"
    assert objects[0]["metadata"]["name"] == "web"
    assert [c["image"] for c in objects[0]["spec"]["containers"]] == ["team/web:v2"]
    params = {"parameters": [{"name": "image", "value": "team/web:v9"}]}
    objects, _ = render(tools, {"path": "chart", "helm": params}, CHART, app="w", namespace="x")
    assert [c["image"] for c in objects[0]["spec"]["containers"]] == ["team/web:v9"]
    source["helm"] = {"valueFiles": ["$other/x.yaml"]}
    with pytest.raises(ManifestError, match="no source with ref 'other'"):
        render(tools, source, CHART, app="web", namespace="prod", refs={"values": values})
