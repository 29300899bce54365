"""``scaffold --kustomize`` builds with the real ``kubectl kustomize`` into exactly the objects it
wrote, and after ``bump-image`` the build asks for the new image (what Argo CD would apply)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_release.cli import main
from tests.conftest import GitRemote
from tests.render.conftest import Tool, container_images, objects

SCAFFOLD = [
    "scaffold",
    "myapp",
    "--image",
    "registry.example.com/team/myapp:1.4.2",
    "--prod-host",
    "prod.myapp.com",
    "--preview-host",
    "test.myapp.com",
    "--kustomize",
]


def _key(obj: dict[str, object]) -> str:
    meta = obj["metadata"]
    assert isinstance(meta, dict)
    return f"{obj['apiVersion']} {obj['kind']}/{meta['name']}"


def _scaffolded(app: Path) -> list[dict[str, object]]:
    """Every object in the files the scaffolded kustomization lists, as written."""
    (kustomization,) = objects((app / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert isinstance(resources, list)
    return [obj for name in resources for obj in objects((app / name).read_text())]


@pytest.mark.parametrize(
    "options",
    [[], ["--path", "apps/shop/myapp", "--namespace", "shop", "--auto-promote"]],
    ids=["defaults", "path-namespace-auto-promote"],
)
def test_kustomize_build_yields_exactly_the_scaffolded_objects(
    kubectl: Tool,
    git_remote: GitRemote,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
) -> None:
    checkout = git_remote.checkout
    assert main([*SCAFFOLD, *options, "--repo-dir", str(checkout)]) == 0, capsys.readouterr().err
    app = checkout / (options[1] if options else "myapp")

    built = objects(kubectl.output("kustomize", app))

    written = _scaffolded(app)
    assert sorted(map(_key, built)) == sorted(map(_key, written))
    assert len(built) == len(written) == 5  # Rollout, 2 Services, 2 IngressRoutes
    assert sorted(built, key=_key) == sorted(written, key=_key)


def test_after_bump_image_the_build_asks_for_the_new_image(
    kubectl: Tool, git_remote: GitRemote, capsys: pytest.CaptureFixture[str]
) -> None:
    checkout = git_remote.checkout
    assert main([*SCAFFOLD, "--repo-dir", str(checkout), "--commit", "--push"]) == 0
    before = container_images(kubectl.output("kustomize", checkout / "myapp"))
    assert before == {"Rollout/myapp/myapp": "registry.example.com/team/myapp:1.4.2"}
    capsys.readouterr()

    code = main(["bump-image", "1.5.0", "--app", "myapp", "--repo", str(checkout), "-o", "json"])
    report = json.loads(capsys.readouterr().out)

    assert (code, report["changed"], report["pushed"]) == (0, True, True)
    after = container_images(kubectl.output("kustomize", checkout / "myapp"))
    assert after == {"Rollout/myapp/myapp": "registry.example.com/team/myapp:1.5.0"}
