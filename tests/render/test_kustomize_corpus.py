"""Every kustomization of the real-world corpus, bumped with ``bump-image``, then built with the real
``kubectl kustomize``: the build asks for the new image, and nothing else in it changed.

Each corpus file is placed at its upstream path (from its name, ``owner__repo__path``) in a real
repository with a bare remote. What it refers to and the corpus does not hold (its resources,
bases, patch files, transformer configurations) the test writes, as small as kustomize accepts:
the first resource holds a Deployment ``workload`` with one container per ``images:`` entry
(``image-N``, its image the entry's ``name``, untagged), the others a ConfigMap each. Objects a
file's own inline patches, ``vars`` or ``replicas`` name are in ``NAMED`` below.

Two things a fresh repository cannot give a corpus file are worked around, generically:
- a file reference above the kustomization (``configurations: [../rollout-transform.yaml]``):
  kustomize refuses it by default; upstream builds these with ``--load-restrictor
  LoadRestrictionsNone`` (Argo CD: ``kustomize.buildOptions``), and so does the test;
- ``openapi: {path: https://...}``: kustomize would download it; the test builds a copy of the
  checkout without that key (the key only feeds strategic-merge patches of custom kinds).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from gitops_release.cli import main
from tests.conftest import GitRemote, git
from tests.render.conftest import CORPUS, Tool, container_images, objects, retag

NEW_TAG = "1.20"  # a float if written plain: kustomize refuses `newTag: 1.20` unquoted
FILES = sorted(p.name for p in CORPUS.glob("*kustomization*.y*ml"))

# Objects (kind, name) a corpus file's inline patches, vars and replicas expect in its resources.
NAMED: dict[str, list[tuple[str, str]]] = {
    # patches Deployment hello-world (serviceAccountName)
    "argoproj__argo-cd__util__kustomize__testdata__kustomization_yaml_components_monorepo__envs__inseng-pdx-egert-sandbox__namespaces__inst-system__apps__hello-world__kustomization.yaml": [
        ("Deployment", "hello-world")
    ],
    # vars: SERVICE_NAME from Service rollouts-demo-svc
    "argoproj__argo-rollouts__docs__features__kustomize__example__kustomization.yaml": [
        ("Service", "rollouts-demo-svc")
    ],
    # vars from Service guestbook-stable-svc; replicas and a patch for Rollout guestbook
    "argoproj__argo-rollouts__test__kustomize__rollout__kustomization.yaml": [
        ("Service", "guestbook-stable-svc"),
        ("Rollout", "guestbook"),
    ],
}
# Files bump-image must refuse (exit 2, nothing written): the build still runs, unchanged.
REFUSED = {
    # every entry's newName is a placeholder (CONTAINER_IMAGES_REGISTRY/...), not a repository
    "GoogleCloudPlatform__microservices-demo__kustomize__components__container-images-registry__kustomization.yaml": "invalid repository",
}
# Files kustomize itself refuses, before any edit: not rendered; the reason is checked.
UNBUILDABLE = {
    # "This is not intended to be a working kustomization": newDigest is not a kustomize field
    "fluxcd__image-automation-controller__internal__update__testdata__setters__original__kustomization.yml": 'unknown field "newDigest"',
}
# What the corpus' `configurations:` files (Argo Rollouts' rollout-transform.yaml) are for, as far
# as these builds need it: `replicas:` may name a Rollout.
ROLLOUT_CONFIGURATION = "replicas:\n- path: spec/replicas\n  kind: Rollout\n"
API_VERSIONS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "ConfigMap": "v1",
    "Rollout": "argoproj.io/v1alpha1",
}


def _manifest(kind: str, name: str, containers: list[dict[str, str]] | None = None) -> str:
    obj: dict[str, Any] = {"apiVersion": API_VERSIONS[kind], "kind": kind}
    obj["metadata"] = {"name": name}
    if kind in ("Deployment", "Rollout"):
        labels = {"app": name}
        obj["spec"] = {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers or []}},
        }
    elif kind == "Service":
        obj["spec"] = {"ports": [{"port": 80}]}
    else:
        obj["data"] = {"made-by": "tests/render"}
    return json.dumps(obj, indent=2) + "\n"  # JSON is YAML


def _is_file(ref: str) -> bool:
    return PurePosixPath(ref).suffix in (".yaml", ".yml", ".json")


class Repo:
    """The corpus kustomization at its upstream path, and what it refers to, made minimal."""

    def __init__(self, checkout: Path, name: str) -> None:
        self.checkout = checkout
        self.name = name
        self.rel = PurePosixPath(*name.split("__")[2:])
        self.path = checkout / self.rel
        self.path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CORPUS / name, self.path)
        (self.doc,) = objects(self.path.read_text())
        self.images: list[dict[str, Any]] = list(self.doc.get("images") or [])
        self.outside = False  # a file reference above the kustomization's directory
        self.root = self.path.parent
        if self.doc.get("kind") == "Component":
            # A Component is not built alone: a kustomization that uses it is the build root.
            self.root = self.path.parent.parent / "render-root"
            root = self._kustomization(["workload.yaml"])
            self._write(
                self.root / "kustomization.yaml",
                root + f"components: [../{self.path.parent.name}]\n",
            )
            self._workload(self.root / "workload.yaml")
        self._fill()

    def _write(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    @staticmethod
    def _kustomization(resources: list[str]) -> str:
        return (
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"resources: {json.dumps(resources)}\n"
        )

    def _workload(self, path: Path) -> None:
        containers = [
            {"name": f"image-{i}", "image": str(entry["name"])}
            for i, entry in enumerate(self.images)
        ]
        docs = [_manifest(kind, name) for kind, name in NAMED.get(self.name, [])]
        docs.append(_manifest("Deployment", "workload", containers))
        self._write(path, "---\n".join(docs))

    def _target(self, ref: str) -> Path:
        target = Path(os.path.normpath(self.path.parent / ref))
        assert target.is_relative_to(self.checkout), f"{ref} leaves the repository"
        if _is_file(ref) and not target.is_relative_to(self.path.parent):
            self.outside = True
        return target

    def _fill(self) -> None:
        """Write each local file or directory the kustomization names and the repo lacks."""
        resources = [str(r) for r in (self.doc.get("resources") or [])]
        resources += [str(r) for r in (self.doc.get("bases") or [])]
        for index, ref in enumerate(resources):
            assert "://" not in ref, f"{self.name}: remote resource {ref}"
            target = self._target(ref)
            if target.exists():
                continue
            file = target if _is_file(ref) else target / "resources.yaml"
            if not _is_file(ref):
                self._write(target / "kustomization.yaml", self._kustomization([file.name]))
            if index == 0:
                self._workload(file)
            else:
                slug = re.sub(r"[^a-z0-9]+", "-", ref.lower()).strip("-")
                self._write(file, _manifest("ConfigMap", f"stub-{slug}"))
        patch_files = [str(p["path"]) for p in (self.doc.get("patches") or []) if "path" in p]
        for ref in patch_files:
            patch = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "workload", "annotations": {"patched-by": ref}},
            }
            self._write(self._target(ref), json.dumps(patch) + "\n")
        for ref in self.doc.get("configurations") or []:
            self._write(self._target(str(ref)), ROLLOUT_CONFIGURATION)

    def build(self, kubectl: Tool, scratch: Path) -> str:
        """``kubectl kustomize`` of a copy of the checkout (see the module docstring)."""
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(self.checkout, scratch, ignore=shutil.ignore_patterns(".git"))
        copy = scratch / self.rel
        openapi = self.doc.get("openapi") or {}
        if "://" in str(openapi.get("path", "")):
            text = re.sub(r"(?m)^openapi:\n(?:[ \t]+.*\n)+", "", copy.read_text(), count=1)
            assert "openapi:" not in text, "kustomize would fetch the openapi URL"
            copy.write_text(text)
        flags = ["--load-restrictor=LoadRestrictionsNone"] if self.outside else []
        return kubectl.output("kustomize", *flags, scratch / self.root.relative_to(self.checkout))


def _written(entry: dict[str, Any]) -> str:
    """The image an ``images:`` entry asks for, read from the entry itself."""
    ref = str(entry.get("newName") or entry["name"])
    if entry.get("newTag") is not None:
        ref += f":{entry['newTag']}"
    return ref + (f"@{entry['digest']}" if entry.get("digest") else "")


def test_every_corpus_kustomization_is_accounted_for() -> None:
    assert len(FILES) >= 15, "the corpus is missing: tests/data/corpus/real"
    assert set(REFUSED) | set(UNBUILDABLE) | set(NAMED) <= set(FILES)


@pytest.mark.parametrize("name", FILES, ids=[n.split("__", 2)[-1] for n in FILES])
def test_bumped_kustomization_builds_with_the_new_image(
    name: str,
    kubectl: Tool,
    git_remote: GitRemote,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    checkout = git_remote.checkout
    repo = Repo(checkout, name)
    git(checkout, "add", "-A")
    git(checkout, "commit", "-q", "-m", f"add {repo.rel}")
    git(checkout, "push", "-q", "origin", "main")
    if name in UNBUILDABLE:
        scratch = tmp_path / "render"
        shutil.copytree(checkout, scratch, ignore=shutil.ignore_patterns(".git"))
        refused = kubectl.run("kustomize", scratch / repo.root.relative_to(checkout))
        assert refused.returncode != 0 and UNBUILDABLE[name] in refused.stderr
        return

    before_text = repo.build(kubectl, tmp_path / "before")
    before = container_images(before_text)
    mine = {key: key.rsplit("/", 1)[1] for key in before if "/image-" in key}
    assert sorted(mine.values()) == sorted(f"image-{i}" for i in range(len(repo.images)))
    for key, container in mine.items():  # kustomize reads the corpus file as the test does
        assert before[key] == _written(repo.images[int(container.split("-")[1])])
    original = repo.path.read_bytes()
    capsys.readouterr()

    code = main(
        [
            *("bump-image", NEW_TAG, "--app", str(repo.rel), "--repo", str(checkout)),
            *("--image-name", str(repo.images[0]["name"]), "-o", "json"),
        ]
    )
    out, err = capsys.readouterr()

    after_text = repo.build(kubectl, tmp_path / "after")
    if name in REFUSED:
        assert code == 2 and REFUSED[name] in err
        assert repo.path.read_bytes() == original
        assert after_text == before_text
        return
    assert code == 0, err
    assert json.loads(out)["changed"] is True
    (bumped,) = [key for key, container in mine.items() if container == "image-0"]
    expected = dict(before, **{bumped: retag(before[bumped], NEW_TAG)})
    assert container_images(after_text) == expected
    assert len(objects(after_text)) == len(objects(before_text))
    assert after_text.replace(expected[bumped], before[bumped]) == before_text
