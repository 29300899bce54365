"""yaml.verify: the check after a splice re-reads as little as it can and still catches a bad edit."""

from __future__ import annotations

from typing import Any

import pytest

from gitops_release.images import parse_image
from gitops_release.yaml import verify as verify_module
from gitops_release.yaml.edit import apply_image, find_images
from gitops_release.yaml.read import YamlError
from gitops_release.yaml.sites import Span
from gitops_release.yaml.verify import FieldEdit, verify

ROLLOUT = """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: myapp
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: ikubernetes/myapp:v1 # bumped by CI

          ports: [{containerPort: 80}]
          args: ["--port", "80"]
  strategy:
    blueGreen: {activeService: myapp-active}
"""
OLD = "ikubernetes/myapp:v1"


def _reread(monkeypatch: pytest.MonkeyPatch, text: str) -> list[str]:
    """The texts verification composes besides the old text (which is read from the cache)."""
    seen: list[str] = []
    real = verify_module.compose_documents

    def recording(given: str, *, source: str) -> Any:
        if given != text:
            seen.append(given)
        return real(given, source=source)

    monkeypatch.setattr(verify_module, "compose_documents", recording)
    return seen


def _bump(text: str, tag: str) -> str:
    sites = [s for s in find_images(text, source="f.yaml") if s.container == "app"]
    return apply_image(text, sites, parse_image(f"ikubernetes/myapp:{tag}"), source="f.yaml").text


def test_a_nested_edit_is_checked_by_re_reading_only_the_entry_that_holds_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _reread(monkeypatch, ROLLOUT)
    assert _bump(ROLLOUT, "v2") == ROLLOUT.replace(":v1 #", ":v2 #")
    # the `image:` entry alone, its indentation cut: not the whole `spec:` (a rollout's bulk)
    assert seen == ["image: ikubernetes/myapp:v2 # bumped by CI\n\n"]


@pytest.mark.parametrize(
    "text",
    [
        # a comment left of the entry's indentation: the entry is not cut out, its parent is read
        ROLLOUT.replace("\n\n          ports", "\n# ports:\n          ports"),
        # the last entry of its mapping has no next key to end it
        ROLLOUT.replace('          args: ["--port", "80"]\n', "").replace(
            "        - name: app\n          image: ikubernetes/myapp:v1 # bumped by CI\n\n"
            "          ports: [{containerPort: 80}]\n",
            "        - ports: [{containerPort: 80}]\n          name: app\n"
            "          image: ikubernetes/myapp:v1 # bumped by CI\n",
        ),
        # an alias to an anchor outside the entry: read with the anchor
        ROLLOUT.replace("replicas: 2", "replicas: &two 2").replace(
            "# bumped by CI\n", "# bumped by CI\n          stdin: *two\n"
        ),
        # old Mac line ends: \r alone breaks lines too
        ROLLOUT.replace("\n", "\r"),
        # a block scalar inside the entry keeps its own indentation
        ROLLOUT.replace(
            "          image: ikubernetes/myapp:v1 # bumped by CI\n",
            "          env:\n            - name: NOTE\n              value: |\n"
            "                first\n                  deeper\n"
            "          image: ikubernetes/myapp:v1 # bumped by CI\n",
        ).replace("        - name: app\n", "        - name: app\n          workingDir: /\n"),
    ],
    ids=["comment-left", "last-entry", "alias-outside", "cr-line-ends", "block-scalar"],
)
def test_entries_that_cannot_be_read_alone_are_still_checked(text: str) -> None:
    assert _bump(text, "v2") == text.replace(":v1 #", ":v2 #")


def _edit(text: str, token: str, value: str = "ikubernetes/myapp:v2") -> FieldEdit:
    start = text.index(OLD)
    line = text.count("\n", 0, start) + 1
    column = start - text.rfind("\n", 0, start)
    span = Span(start, start + len(OLD), OLD, "", line, column)
    return FieldEdit("image", "spec.template.spec.containers[0].image", span, value, token)


@pytest.mark.parametrize(
    "token",
    ['"ikubernetes/myapp:v2', "[a, b]", "{a: 1}", "a: b", "ikubernetes/myapp:v2 #x\n", "'v2"],
)
@pytest.mark.parametrize("where", ["nested", "comment-left"])
def test_a_bad_token_in_a_nested_entry_is_caught(token: str, where: str) -> None:
    text = ROLLOUT
    if where == "comment-left":
        text = ROLLOUT.replace("\n\n          ports", "\n# ports:\n          ports")
    edit = _edit(text, token)
    new_text = text[: edit.span.start] + token + text[edit.span.end :]
    with pytest.raises(YamlError, match=r"check failed|failed its check"):
        verify(text, new_text, [edit], source="f.yaml")


def test_a_token_that_reads_as_another_value_is_caught() -> None:
    edit = _edit(ROLLOUT, "ikubernetes/myapp:v3")
    wrong = ROLLOUT.replace(OLD, "ikubernetes/myapp:v3")
    with pytest.raises(YamlError, match="re-reads as 'ikubernetes/myapp:v3'"):
        verify(ROLLOUT, wrong, [edit], source="f.yaml")
