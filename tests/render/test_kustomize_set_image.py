"""kustomize's own ``edit set image`` cases, for the forms ``bump-image`` accepts.

The cases are those of kubernetes-sigs/kustomize ``kustomize/commands/edit/set/setimage_test.go``
(``TestSetImage``, Apache-2.0), restated here as facts: a kustomization's ``images:`` before,
the image set, and kustomize's ``images:`` after. ``kustomize edit set image NAME=REF`` becomes
``bump-image REF --image-name NAME`` on an existing entry (``bump-image`` edits an image the app
already names; where kustomize's case starts from no entry, ours starts from ``- name: NAME``).
A ``*`` (keep that part) is written out as the value kept.

Each case checks three things: our bytes (the file changes only inside the edited values, in
the file's own key order; a cleared value is written ``""`` where kustomize deletes the key),
the same ``images:`` as kustomize's after dropping empty values, and the same render through
the real ``kubectl kustomize``. Not ported: the two argument-parsing errors (no args, ``bad
args``), which are kustomize's CLI, not an edit; and ``image1=my-image1:*`` on an entry with no
tag (a bare ``my-image1`` is a tag to ``bump-image``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from gitops_release.cli import main
from tests.conftest import GitRemote, git
from tests.render.conftest import Tool, container_images

D = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3"
HEAD = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
    "resources:\n  - deployment.yaml\n"
)
NAMES = ("image1", "image2", "image3", "my-image1", "ngnix")
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
""" + "".join(f"        - name: c{i}\n          image: {n}\n" for i, n in enumerate(NAMES))
PATCH = [
    "patchesJson6902:",
    "- patch: |-",
    "    - op: remove",
    "      path: /spec/selector",
    "  target:",
    "    kind: Service",
    "    name: foo",
    "    version: v1",
]
TWO = [
    "images:",
    "- name: image1",
    "  newName: my-image1",
    "  newTag: my-tag",
    "- name: image2",
    "  newName: my-image2",
    "  newTag: my-tag2",
]
TWO_AFTER = [
    "images:",
    "- name: image1",
    "  newName: foo.bar.foo:8800/foo/image1",
    "  newTag: foo-bar",
    "- name: image2",
    "  newName: my-image2",
    "  newTag: my-tag2",
]
ONLY = ["images:", "- name: image1"]
# (case, images before, [(TAG_OR_REF, --image-name)], ours after, kustomize's after)
CASES = [
    (
        "new name and tag",
        ONLY,
        [("my-image1:my-tag", "image1")],
        ["images:", "- name: image1", "  newName: my-image1", "  newTag: my-tag"],
        ["images:", "- name: image1", "  newName: my-image1", "  newTag: my-tag"],
    ),
    (
        "a numeric tag is quoted",
        ONLY,
        [("my-image1:1234", "image1")],
        ["images:", "- name: image1", "  newName: my-image1", '  newTag: "1234"'],
        ["images:", "- name: image1", "  newName: my-image1", '  newTag: "1234"'],
    ),
    (
        "a float-looking tag is quoted",
        ONLY,
        [("my-image1:3.2e2", "image1")],
        ["images:", "- name: image1", "  newName: my-image1", '  newTag: "3.2e2"'],
        ["images:", "- name: image1", "  newName: my-image1", '  newTag: "3.2e2"'],
    ),
    (
        "new name and digest",
        ONLY,
        [(f"my-image1@{D}", "image1")],
        ["images:", "- name: image1", "  newName: my-image1", f"  digest: {D}"],
        ["images:", f"- digest: {D}", "  name: image1", "  newName: my-image1"],
    ),
    (
        "tag only",
        ONLY,
        [("image1:my-tag", "image1")],
        ["images:", "- name: image1", "  newTag: my-tag"],
        ["images:", "- name: image1", "  newTag: my-tag"],
    ),
    (
        "digest only",
        ONLY,
        [(f"image1@{D}", "image1")],
        ["images:", "- name: image1", f"  digest: {D}"],
        ["images:", f"- digest: {D}", "  name: image1"],
    ),
    (
        "tag and digest on the same name",
        ["images:", "- name: my-image1"],
        [(f"my-image1:my-tag@{D}", "my-image1")],
        ["images:", "- name: my-image1", "  newTag: my-tag", f"  digest: {D}"],
        ["images:", f"- digest: {D}", "  name: my-image1", "  newTag: my-tag"],
    ),
    (
        "new name, tag and digest",
        ONLY,
        [(f"my-image1:my-tag@{D}", "image1")],
        [
            "images:",
            "- name: image1",
            "  newName: my-image1",
            "  newTag: my-tag",
            f"  digest: {D}",
        ],
        [
            "images:",
            f"- digest: {D}",
            "  name: image1",
            "  newName: my-image1",
            "  newTag: my-tag",
        ],
    ),
    (
        "<image>=<image>",
        ["images:", "- name: ngnix"],
        [("localhost:5000/my-project/ngnix", "ngnix")],
        ["images:", "- name: ngnix", "  newName: localhost:5000/my-project/ngnix"],
        ["images:", "- name: ngnix", "  newName: localhost:5000/my-project/ngnix"],
    ),
    (
        "a registry with a port, and a tag",
        ["images:", "- name: ngnix"],
        [("localhost:5000/my-project/ngnix:dev-01", "ngnix")],
        [
            "images:",
            "- name: ngnix",
            "  newName: localhost:5000/my-project/ngnix",
            "  newTag: dev-01",
        ],
        [
            "images:",
            "- name: ngnix",
            "  newName: localhost:5000/my-project/ngnix",
            "  newTag: dev-01",
        ],
    ),
    (
        "override file",
        TWO,
        [("foo.bar.foo:8800/foo/image1:foo-bar", "image1")],
        TWO_AFTER,
        TWO_AFTER,
    ),
    (
        "override file with patch",
        TWO + PATCH,
        [("foo.bar.foo:8800/foo/image1:foo-bar", "image1")],
        TWO_AFTER + PATCH,
        TWO_AFTER + PATCH,
    ),
    (
        "override new tag and new name with just a new tag",
        ["images:", "- name: image1", "  newTag: my-tag"],
        [("image1:v1", "image1")],
        ["images:", "- name: image1", "  newTag: v1"],
        ["images:", "- name: image1", "  newTag: v1"],
    ),
    (
        "multiple args with multiple overrides",
        [*TWO[:3], "  newTag: my-tag1", *TWO[4:], "- name: image3", "  newTag: my-tag"],
        [
            ("foo.bar.foo:8800/foo/image1:foo-bar", "image1"),
            (f"my-image2@{D}", "image2"),
            ("image3:my-tag", "image3"),
        ],
        [
            *TWO_AFTER[:4],
            "- name: image2",
            "  newName: my-image2",
            '  newTag: ""',
            f"  digest: {D}",
            "- name: image3",
            "  newTag: my-tag",
        ],
        [
            *TWO_AFTER[:4],
            f"- digest: {D}",
            "  name: image2",
            "  newName: my-image2",
            "- name: image3",
            "  newTag: my-tag",
        ],
    ),
    (
        "override new tag but keep new name (*:v1)",
        ["images:", "- name: image1", "  newName: foo.bar.foo:8800/foo/image1", "  newTag: my-tag"],
        [("v1", "image1")],
        ["images:", "- name: image1", "  newName: foo.bar.foo:8800/foo/image1", "  newTag: v1"],
        ["images:", "- name: image1", "  newName: foo.bar.foo:8800/foo/image1", "  newTag: v1"],
    ),
    (
        "override new name but keep new tag (my-image1:*)",
        ["images:", "- name: image1", "  newName: foo.bar.foo:8800/foo/image1", "  newTag: my-tag"],
        [("my-image1:my-tag", "image1")],
        ["images:", "- name: image1", "  newName: my-image1", "  newTag: my-tag"],
        ["images:", "- name: image1", "  newName: my-image1", "  newTag: my-tag"],
    ),
    (
        "keep new name and new tag (*:*): nothing changes",
        ["images:", "- name: image1", "  newName: my-image1", "  newTag: my-tag"],
        [("my-image1:my-tag", "image1")],
        ["images:", "- name: image1", "  newName: my-image1", "  newTag: my-tag"],
        ["images:", "- name: image1", "  newName: my-image1", "  newTag: my-tag"],
    ),
    (
        "do not set asterisk as new name for existing image (*:v1)",
        ["images:", "- name: image1", "  newTag: my-tag"],
        [("v1", "image1")],
        ["images:", "- name: image1", "  newTag: v1"],
        ["images:", "- name: image1", "  newTag: v1"],
    ),
    (
        "do not set asterisk as new name (*:v1)",
        ONLY,
        [("v1", "image1")],
        ["images:", "- name: image1", "  newTag: v1"],
        ["images:", "- name: image1", "  newTag: v1"],
    ),
    (
        "keep new name and update digest (*@sha256:...)",
        ["images:", "- name: image2", "  newName: my-image2", "  digest: sha256:" + "ab" * 32],
        [(f"my-image2@{D}", "image2")],
        ["images:", "- name: image2", "  newName: my-image2", f"  digest: {D}"],
        ["images:", f"- digest: {D}", "  name: image2", "  newName: my-image2"],
    ),
    (
        "keep new name, remove tag, and set digest (*@sha256:...)",
        ["images:", "- name: image2", "  newName: my-image2", "  newTag: my-tag"],
        [(f"my-image2@{D}", "image2")],
        ["images:", "- name: image2", "  newName: my-image2", '  newTag: ""', f"  digest: {D}"],
        ["images:", f"- digest: {D}", "  name: image2", "  newName: my-image2"],
    ),
    (
        "update new name and keep the digest (my-image2@*)",
        ["images:", f"- digest: {D}", "  name: image2", "  newName: foo.bar.foo:8800/foo/image1"],
        [(f"my-image2@{D}", "image2")],
        ["images:", f"- digest: {D}", "  name: image2", "  newName: my-image2"],
        ["images:", f"- digest: {D}", "  name: image2", "  newName: my-image2"],
    ),
]


def text(lines: list[str]) -> str:
    return HEAD + "\n".join(lines) + "\n"


def images(content: str) -> list[dict[str, str]]:
    data = YAML(typ="safe", pure=True).load(content)
    return [{k: v for k, v in entry.items() if v != ""} for entry in data["images"]]


@pytest.mark.parametrize(
    ("before", "steps", "ours", "theirs"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_kustomize_set_image_case(
    before: list[str],
    steps: list[tuple[str, str]],
    ours: list[str],
    theirs: list[str],
    git_remote: GitRemote,
    kubectl: Tool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = git_remote.checkout / "app"
    app.mkdir()
    (app / "kustomization.yaml").write_text(text(before))
    (app / "deployment.yaml").write_text(DEPLOYMENT)
    git(git_remote.checkout, "add", ".")
    git(git_remote.checkout, "commit", "-qm", "app")
    monkeypatch.chdir(git_remote.checkout)
    for ref, name in steps:
        code = main(["bump-image", ref, "--app", "app", "--image-name", name, "--no-push"])
        assert code == 0, capsys.readouterr().err
    got = (app / "kustomization.yaml").read_text()
    assert got == text(ours)
    assert images(got) == images(text(theirs))
    expected = tmp_path / "kustomize-expected"
    shutil.copytree(app, expected)
    (expected / "kustomization.yaml").write_text(text(theirs))
    assert container_images(kubectl.output("kustomize", str(app))) == container_images(
        kubectl.output("kustomize", str(expected))
    )


def test_every_case_is_counted() -> None:
    """22 of kustomize's 25 TestSetImage cases: not its two argument errors, nor "do not set
    asterisk as new tag" (``image1=my-image1:*`` with no tag in the file): to ``bump-image``
    a bare word such as ``my-image1`` is a tag, so a new name with no tag is not a form we take."""
    assert len(CASES) == 22
