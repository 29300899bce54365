"""yamledit: locate images by meaning, splice byte-exactly, refuse what is unsafe."""

from __future__ import annotations

import pytest

from gitops_release.images import parse_image
from gitops_release.yamledit import (
    YamlError,
    apply_image,
    find_images,
    find_workload_refs,
    read_text,
    unified_diff,
)

ROLLOUT = """\
# the app
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: myapp
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"image":"ikubernetes/myapp:v0"}'
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: busybox:1.36   # pinned
      containers:
        - name: app
          image: ikubernetes/myapp:v1 # {"$imagepolicy": "ns:app"}

          ports: [{containerPort: 80}]
status:
  containerStatuses:
    - image: ikubernetes/myapp:v1
"""


def bump(text: str, container: str, tag: str, **kwargs: bool) -> str:
    sites = [s for s in find_images(text, source="f.yaml") if s.container == container]
    assert len(sites) == 1
    image = sites[0].image
    assert image is not None
    return apply_image(text, sites, image.with_tag(tag), source="f.yaml", **kwargs).text


def test_finds_containers_and_init_containers_but_not_status_or_annotations() -> None:
    sites = find_images(ROLLOUT, source="rollout.yaml")
    assert [(s.yaml_path, s.container, s.current, s.kind) for s in sites] == [
        ("spec.template.spec.initContainers[0].image", "init", "busybox:1.36", "Rollout"),
        ("spec.template.spec.containers[0].image", "app", "ikubernetes/myapp:v1", "Rollout"),
    ]
    assert sites[1].object_name == "myapp"
    assert sites[1].names == ("ikubernetes/myapp",)


def test_tag_bump_changes_only_the_scalar_and_keeps_the_comment() -> None:
    new = bump(ROLLOUT, "app", "v2")
    assert new == ROLLOUT.replace("image: ikubernetes/myapp:v1 #", "image: ikubernetes/myapp:v2 #")


def test_type_changing_tag_is_quoted() -> None:
    new = bump(ROLLOUT, "init", "1.20")
    assert "image: busybox:1.20   # pinned" in new  # a full reference stays a string
    values = "image:\n  repository: nginx\n  tag: latest # x\n"
    sites = find_images(values, source="values.yaml")
    result = apply_image(values, sites, parse_image("nginx:1.20"), source="values.yaml")
    assert result.text == 'image:\n  repository: nginx\n  tag: "1.20" # x\n'
    assert [(c.old, c.new) for c in result.changes] == [("nginx:latest", "nginx:1.20")]


def test_same_value_is_no_change() -> None:
    sites = find_images(ROLLOUT, source="f.yaml")
    result = apply_image(ROLLOUT, sites[1:], parse_image("ikubernetes/myapp:v1"), source="f.yaml")
    assert not result.changed and result.text == ROLLOUT


def test_bom_and_crlf_survive() -> None:
    data = b"\xef\xbb\xbfkind: Pod\r\napiVersion: v1\r\nspec:\r\n  containers:\r\n  - name: a\r\n    image: 'nginx:1' # c\r\n"
    source = read_text(data, source="pod.yaml")
    assert source.bom
    new = bump(source.text, "a", "2")
    assert source.encode(new) == data.replace(b"'nginx:1'", b"'nginx:2'")


def test_non_utf8_is_refused_with_line() -> None:
    with pytest.raises(YamlError, match=r"pod.yaml:2: not UTF-8"):
        read_text(b"a: 1\nb: \xff\n", source="pod.yaml")


def test_unparsable_yaml_names_line_and_column() -> None:
    with pytest.raises(YamlError, match=r"bad.yaml:2:\d+"):
        find_images("a: [1\nb: 2\n", source="bad.yaml")


def test_workload_ref_is_reported() -> None:
    text = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec:\n  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n"
    (ref,) = find_workload_refs(text, source="r.yaml")
    assert (ref.rollout, ref.kind, ref.name) == ("r", "Deployment", "web")


def test_diff_is_unified() -> None:
    diff = unified_diff("a: 1\n", "a: 2\n", "x.yaml")
    assert diff.splitlines()[:2] == ["--- a/x.yaml", "+++ b/x.yaml"]
