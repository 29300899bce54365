"""``yaml/spans.py`` on its own: where an image is written, as exact character spans."""

from __future__ import annotations

from gitops_release.yaml.spans import locate

ROLLOUT = """\
# the app
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: myapp
spec:
  template:
    spec:
      containers:
        - name: web
          image: "ikubernetes/myapp:v1"  # bumped by CI
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: other
spec:
  workloadRef:
    apiVersion: apps/v1
    kind: Deployment
    name: other-deploy
"""


def test_a_container_image_is_a_span_of_the_original_text() -> None:
    sites, refs = locate(ROLLOUT, source="rollout.yaml")
    (site,) = sites
    span = site.field("image")
    assert span is not None
    assert ROLLOUT[span.start : span.end] == '"ikubernetes/myapp:v1"'
    assert (span.value, span.style, span.line, span.column) == ("ikubernetes/myapp:v1", '"', 11, 18)
    assert (site.file, site.container, site.current) == (
        "rollout.yaml",
        "web",
        "ikubernetes/myapp:v1",
    )
    assert site.yaml_path == "spec.template.spec.containers[0].image"
    assert [(r.rollout, r.kind, r.name, r.document) for r in refs] == [
        ("other", "Deployment", "other-deploy", 1)
    ]


def test_split_helm_values_and_a_value_shared_through_an_anchor() -> None:
    text = "image:\n  repository: team/app\n  tag: &t v1\nbackup:\n  tag: *t\n"
    (site,) = locate(text, source="values.yaml")[0]
    repository, tag = site.field("repository"), site.field("tag")
    assert repository is not None and text[repository.start : repository.end] == "team/app"
    assert tag is not None and text[tag.start : tag.end] == "v1"
    assert tag.shared and not repository.shared  # editing the tag would change backup.tag too


def test_a_duplicate_key_is_a_problem_of_the_site_not_an_error() -> None:
    text = "containers:\n  - name: a\n    image: x/a:v1\n    image: x/a:v2\n"
    sites, _ = locate(text, source="pod.yaml")
    assert sites and all(s.problem for s in sites)
