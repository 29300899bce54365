"""scaffold: the issue's example in a fresh checkout, golden files, field-by-field checks, CRD
schemas, bad input (exit 2, nothing written), hostile values, commit and push."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import DATA, GitRemote, git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from regen_schemas import generate

from gitops_release.cli import main
from gitops_release.scaffold import templating
from gitops_release.scaffold.write import default_templates
from gitops_release.schemas import validate as schemas
from gitops_release.yaml.read import load_all

GOLDEN = Path(__file__).parent / "golden" / "scaffold"
EXAMPLE = [
    "scaffold",
    "myapp",
    "--image",
    "ikubernetes/myapp:v1",
    "--prod-host",
    "prod.myapp.com",
    "--preview-host",
    "test.myapp.com",
]
ORIGIN = "https://oauth2:s3cr3t-token@git.example.com/devops/argo-demo.git"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A fresh GitOps checkout on main whose origin URL carries credentials."""
    repo = tmp_path / "gitops"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "remote", "add", "origin", ORIGIN)
    return repo


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def docs(path: Path) -> list[dict[str, object]]:
    return [d for d in load_all(path.read_text(), source=str(path)) if d is not None]


def check_golden(name: str, files: dict[str, str]) -> None:
    root = GOLDEN / name
    if os.environ.get("REGEN_GOLDEN"):
        shutil.rmtree(root, ignore_errors=True)
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
    assert tree(root) == files


def test_issue_example_writes_the_guide_files(
    capsys: pytest.CaptureFixture[str], checkout: Path
) -> None:
    code, out, err = run(capsys, *EXAMPLE, "--repo-dir", str(checkout))
    assert (code, err) == (0, "")
    assert "wrote myapp/rollout.yaml" in out
    files = tree(checkout)
    assert sorted(files) == [
        "argocd/myapp.yaml",
        "myapp/ingress.yaml",
        "myapp/rollout.yaml",
        "myapp/service.yaml",
    ]
    check_golden("default", files)
    assert "s3cr3t" not in "".join(files.values()) + out


def test_rendered_objects_field_by_field(
    capsys: pytest.CaptureFixture[str], checkout: Path
) -> None:
    assert run(capsys, *EXAMPLE, "--repo-dir", str(checkout))[0] == 0
    (rollout,) = docs(checkout / "myapp/rollout.yaml")
    assert rollout["apiVersion"] == "argoproj.io/v1alpha1"
    assert rollout["kind"] == "Rollout"
    assert rollout["metadata"] == {"name": "myapp"}
    spec = rollout["spec"]
    assert spec["replicas"] == 2
    assert spec["revisionHistoryLimit"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "myapp"}}
    assert spec["template"]["metadata"] == {"labels": {"app": "myapp"}}
    assert spec["template"]["spec"]["containers"] == [
        {
            "name": "myapp",
            "image": "ikubernetes/myapp:v1",
            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
        }
    ]
    assert spec["strategy"] == {
        "blueGreen": {
            "activeService": "myapp-active",
            "previewService": "myapp-preview",
            "autoPromotionEnabled": False,
            "previewReplicaCount": 1,
        }
    }

    active, preview = docs(checkout / "myapp/service.yaml")
    for service, name in ((active, "myapp-active"), (preview, "myapp-preview")):
        assert service["apiVersion"] == "v1" and service["kind"] == "Service"
        assert service["metadata"] == {"name": name}
        assert service["spec"] == {
            "type": "ClusterIP",
            "selector": {"app": "myapp"},
            "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}],
        }

    prod, test = docs(checkout / "myapp/ingress.yaml")
    for route, name, host, service in (
        (prod, "myapp-prod", "prod.myapp.com", "myapp-active"),
        (test, "myapp-test", "test.myapp.com", "myapp-preview"),
    ):
        assert route["apiVersion"] == "traefik.io/v1alpha1" and route["kind"] == "IngressRoute"
        assert route["metadata"] == {"name": name}
        assert route["spec"] == {
            "entryPoints": ["web"],
            "routes": [
                {
                    "match": f"Host(`{host}`)",
                    "kind": "Rule",
                    "services": [{"name": service, "port": 80}],
                }
            ],
        }
        assert isinstance(route["spec"]["routes"][0]["services"][0]["port"], int)

    (application,) = docs(checkout / "argocd/myapp.yaml")
    assert application["apiVersion"] == "argoproj.io/v1alpha1"
    assert application["kind"] == "Application"
    assert application["metadata"] == {"name": "myapp", "namespace": "argocd"}
    assert application["spec"] == {
        "project": "default",
        "source": {
            "repoURL": "https://git.example.com/devops/argo-demo.git",
            "path": "myapp",
            "targetRevision": "main",
        },
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
        "syncPolicy": {"automated": {"prune": False, "selfHeal": False}},
    }


OPTIONS = [
    "--path",
    "apps/shop-web",
    "--replicas",
    "4",
    "--preview-replica-count",
    "2",
    "--revision-history-limit",
    "5",
    "--container-port",
    "8080",
    "--port",
    "8000",
    "--auto-promote",
    "--auto-promotion-seconds",
    "60",
    "--scale-down-delay-seconds",
    "45",
    "--entrypoint",
    "websecure",
    "--namespace",
    "shop",
    "--project",
    "team-a",
    "--repo-url",
    "git@git.example.com:team/gitops.git",
    "--target-revision",
    "release",
    "--prune",
    "--self-heal",
    "--kustomize",
]


def test_every_option_lands_in_its_field(
    capsys: pytest.CaptureFixture[str], checkout: Path
) -> None:
    code, _, err = run(
        capsys,
        "scaffold",
        "shop-web",
        "--image",
        "registry.example.com:5000/team/shop-web:1.4.2",
        "--prod-host",
        "shop.example.com",
        "--preview-host",
        "preview.shop.example.com",
        *OPTIONS,
        "--repo-dir",
        str(checkout),
    )
    assert code == 0, err
    # --auto-promote is asked for, so no manual-gate warning
    assert "warning" not in err
    files = tree(checkout)
    check_golden("options", files)
    (rollout,) = docs(checkout / "apps/shop-web/rollout.yaml")
    spec = rollout["spec"]
    assert (spec["replicas"], spec["revisionHistoryLimit"]) == (4, 5)
    container = spec["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com:5000/team/shop-web:1.4.2"
    assert container["ports"][0]["containerPort"] == 8080
    assert spec["strategy"]["blueGreen"] == {
        "activeService": "shop-web-active",
        "previewService": "shop-web-preview",
        "autoPromotionEnabled": True,
        "previewReplicaCount": 2,
        "scaleDownDelaySeconds": 45,
        "autoPromotionSeconds": 60,
    }
    for service in docs(checkout / "apps/shop-web/service.yaml"):
        assert service["spec"]["ports"][0] | {} == {
            "name": "http",
            "port": 8000,
            "targetPort": 8080,
            "protocol": "TCP",
        }
    for route in docs(checkout / "apps/shop-web/ingress.yaml"):
        assert route["spec"]["entryPoints"] == ["websecure"]
        assert route["spec"]["routes"][0]["services"][0]["port"] == 8000
    (application,) = docs(checkout / "argocd/shop-web.yaml")
    assert application["spec"]["project"] == "team-a"
    assert application["spec"]["source"] == {
        "repoURL": "git@git.example.com:team/gitops.git",
        "path": "apps/shop-web",
        "targetRevision": "release",
    }
    assert application["spec"]["destination"]["namespace"] == "shop"
    assert application["spec"]["syncPolicy"] == {"automated": {"prune": True, "selfHeal": True}}
    (kustomization,) = docs(checkout / "apps/shop-web/kustomization.yaml")
    assert kustomization["resources"] == ["rollout.yaml", "service.yaml", "ingress.yaml"]


def test_no_auto_sync_leaves_out_the_sync_policy(
    capsys: pytest.CaptureFixture[str], checkout: Path
) -> None:
    assert run(capsys, *EXAMPLE, "--no-auto-sync", "--repo-dir", str(checkout))[0] == 0
    (application,) = docs(checkout / "argocd/myapp.yaml")
    assert "syncPolicy" not in application["spec"]
    assert "@when" not in (checkout / "argocd/myapp.yaml").read_text()


def _rendered_objects(root: Path) -> list[dict[str, object]]:
    return [doc for path in sorted(root.rglob("*.yaml")) for doc in docs(path)]


@pytest.mark.parametrize("extra", [[], OPTIONS], ids=["defaults", "all-options"])
def test_every_rendered_object_passes_the_crd_schemas(
    capsys: pytest.CaptureFixture[str], checkout: Path, extra: list[str]
) -> None:
    assert run(capsys, *EXAMPLE, *extra, "--repo-dir", str(checkout))[0] == 0
    objects = [o for o in _rendered_objects(checkout) if o["kind"] != "Kustomization"]
    assert sorted(o["kind"] for o in objects) == [
        "Application",
        *["IngressRoute"] * 2,
        "Rollout",
        *["Service"] * 2,
    ]
    from_specs = {
        name: __import__("json").loads(text) for name, text in generate(DATA / "specs").items()
    }
    for obj in objects:
        name = schemas.schema_name(obj)
        assert name is not None
        assert schemas.problems(obj) == [], obj["kind"]  # the shipped schema
        if name in from_specs:  # the upstream CRD itself (tests/data/specs)
            assert schemas.problems(obj, from_specs[name]) == [], obj["kind"]


def test_schemas_catch_a_typo_that_kubernetes_would_refuse() -> None:
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "x"},
        "spec": {"strategy": {"blueGreen": {"activeServise": "x-active"}}, "replicas": "2"},
    }
    found = schemas.problems(rollout)
    assert any("activeServise" in p for p in found)
    assert any(p.startswith("spec.replicas:") for p in found)


def test_dry_run_prints_the_files_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], checkout: Path
) -> None:
    code, out, _ = run(capsys, *EXAMPLE, "--dry-run", "--repo-dir", str(checkout))
    assert code == 0
    assert tree(checkout) == {}
    assert "--- myapp/rollout.yaml (not written)" in out
    assert "image: ikubernetes/myapp:v1" in out
    code, out, _ = run(capsys, *EXAMPLE, "--dry-run", "-o", "json", "--repo-dir", str(checkout))
    payload = __import__("json").loads(out)
    assert payload["changed"] is False
    assert "kind: Rollout" in payload["contents"]["myapp/rollout.yaml"]


def test_an_existing_app_is_refused_unless_force(
    capsys: pytest.CaptureFixture[str], checkout: Path
) -> None:
    assert run(capsys, *EXAMPLE, "--repo-dir", str(checkout))[0] == 0
    (checkout / "myapp/rollout.yaml").write_text("edited by hand\n")
    before = tree(checkout)
    code, _, err = run(capsys, *EXAMPLE, "--replicas", "3", "--repo-dir", str(checkout))
    assert code == 2
    assert "myapp: already exists" in err and "--force" in err
    assert tree(checkout) == before
    code, _, _ = run(capsys, *EXAMPLE, "--replicas", "3", "--force", "--repo-dir", str(checkout))
    assert code == 0
    assert docs(checkout / "myapp/rollout.yaml")[0]["spec"]["replicas"] == 3


def test_an_existing_application_file_is_refused(
    capsys: pytest.CaptureFixture[str], checkout: Path
) -> None:
    (checkout / "argocd").mkdir()
    (checkout / "argocd/myapp.yaml").write_text("kept\n")
    code, _, err = run(capsys, *EXAMPLE, "--repo-dir", str(checkout))
    assert code == 2 and "argocd/myapp.yaml: already exists" in err
    assert tree(checkout) == {"argocd/myapp.yaml": "kept\n"}


def _without(flag: str) -> list[str]:
    args = list(EXAMPLE)
    i = args.index(flag)
    del args[i : i + 2]
    return args


def _with(flag: str, value: str) -> list[str]:
    args = list(EXAMPLE)
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    return args


def _app(name: str) -> list[str]:
    return ["scaffold", name, *EXAMPLE[2:]]


BAD_INPUTS = [
    ("app-upper", _app("MyApp"), "APP"),
    ("app-slash", _app("my/app"), "APP"),
    ("app-dotdot", _app(".."), "APP"),
    ("app-digit-first", _app("1app"), "APP"),
    ("app-too-long", _app("a" * 56), "APP"),
    ("app-newline", _app("x\nevil: true"), "APP"),
    ("image-invalid", _with("--image", "Ikubernetes/My App:v1"), "--image"),
    ("image-no-tag", _with("--image", "ikubernetes/myapp"), "--image"),
    ("image-hash", _with("--image", "ikubernetes/myapp:v1#x"), "--image"),
    ("image-placeholder", _with("--image", "ikubernetes/myapp:${TAG}"), "--image"),
    ("prod-host-scheme", _with("--prod-host", "https://prod.myapp.com"), "--prod-host"),
    ("prod-host-brace", _with("--prod-host", "{prod}.myapp.com"), "--prod-host"),
    ("prod-host-ip", _with("--prod-host", "10.0.0.1"), "--prod-host"),
    ("preview-host-backtick", _with("--preview-host", "test`.myapp.com"), "--preview-host"),
    ("hosts-equal", _with("--preview-host", "prod.myapp.com"), "--preview-host"),
    ("port-zero", _with("--port", "0"), "--port"),
    ("port-too-big", _with("--port", "70000"), "--port"),
    ("port-not-int", _with("--port", "eighty"), "--port"),
    ("container-port", _with("--container-port", "-1"), "--container-port"),
    ("replicas-zero", _with("--replicas", "0"), "--replicas"),
    ("preview-over-replicas", _with("--preview-replica-count", "3"), "--preview-replica-count"),
    ("history-zero", _with("--revision-history-limit", "0"), "--revision-history-limit"),
    ("auto-seconds-manual", _with("--auto-promotion-seconds", "30"), "--auto-promotion-seconds"),
    ("path-absolute", _with("--path", "/etc/myapp"), "--path"),
    ("path-dotdot", _with("--path", "../outside"), "--path"),
    ("path-argocd", _with("--path", "argocd/myapp"), "--path"),
    ("namespace", _with("--namespace", "Prod_NS"), "--namespace"),
    ("project", _with("--project", "team a"), "--project"),
    ("entrypoint", _with("--entrypoint", "web # x"), "--entrypoint"),
    ("repo-url-credentials", _with("--repo-url", ORIGIN), "--repo-url"),
    (
        "repo-url-token-user",
        _with("--repo-url", "https://glpat-abc@g.example.com/x.git"),
        "--repo-url",
    ),
    (
        "repo-url-ssh-password",
        _with("--repo-url", "ssh://git:pw@g.example.com/x.git"),
        "--repo-url",
    ),
    ("repo-url-space", _with("--repo-url", "https://x/a b.git"), "--repo-url"),
    ("revision", _with("--target-revision", "main..dev"), "--target-revision"),
    ("prune-without-sync", [*EXAMPLE, "--no-auto-sync", "--prune"], "--prune"),
    (
        "scale-down-negative",
        _with("--scale-down-delay-seconds", "-5"),
        "--scale-down-delay-seconds",
    ),
    ("missing-image", _without("--image"), "--image"),
    ("missing-prod-host", _without("--prod-host"), "--prod-host"),
]


@pytest.mark.parametrize(
    ("args", "field"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_exits_2_names_the_field_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], checkout: Path, args: list[str], field: str
) -> None:
    code, out, err = run(capsys, *args, "--repo-dir", str(checkout))
    assert code == 2, err
    first = err.strip().splitlines()[-1] if field.startswith("--") else err
    assert field in first or field.lstrip("-") in first.lower(), err
    assert tree(checkout) == {}
    assert out == ""


def test_no_origin_and_no_repo_url_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, *EXAMPLE, "--repo-dir", str(tmp_path))
    assert code == 2 and "--repo-url" in err
    assert list(tmp_path.iterdir()) == []


HOSTILE = [
    "x\nevil: true",
    "a # comment",
    "{injected: 1}",
    "[1, 2]",
    'quote"s',
    "it's",
    "key: value",
    "- item",
    "yes",
    "0x1F",
    "1e3",
    "~",
    "&anchor *alias",
    "!!python/object x",
    "%YAML",
    "`tick`",
    "\u2028sep",
    "tab\there",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_cannot_change_the_yaml_structure(value: str) -> None:
    """Bypassing validation on purpose: the renderer alone keeps every value inside its scalar."""
    template = default_templates() / "rollout.yaml"
    values = {
        "app": value,
        "image": value,
        "replicas": 2,
        "revision_history_limit": 2,
        "container_port": 80,
        "auto_promote": False,
        "preview_replica_count": 1,
        "scale_down_delay_seconds": None,
        "auto_promotion_seconds": None,
        "analysis_enabled": False,
    }
    text = templating.render(template.read_text(), values, source="rollout.yaml")
    (rollout,) = [d for d in load_all(text) if d]
    assert list(rollout) == ["apiVersion", "kind", "metadata", "spec"]
    assert rollout["metadata"] == {"name": value}
    assert rollout["spec"]["strategy"]["blueGreen"]["activeService"] == f"{value}-active"
    assert rollout["spec"]["template"]["spec"]["containers"][0]["image"] == value
    assert list(rollout["spec"]) == [
        "replicas",
        "revisionHistoryLimit",
        "selector",
        "template",
        "strategy",
    ]


def test_a_placeholder_in_a_key_is_refused() -> None:
    with pytest.raises(templating.TemplateError) as err:
        templating.render("labels:\n  ${app}: x\n", {"app": "a: b"}, source="t.yaml")
    assert "t.yaml" in str(err.value)


def test_team_templates_are_used_and_checked(
    capsys: pytest.CaptureFixture[str], checkout: Path, tmp_path: Path
) -> None:
    own = tmp_path / "own"
    shutil.copytree(default_templates(), own)
    text = (own / "rollout.yaml").read_text()
    pod_labels = "      labels:\n        app: ${app}"
    assert pod_labels in text
    (own / "rollout.yaml").write_text(text.replace(pod_labels, pod_labels + "\n        team: a"))
    code, _, err = run(capsys, *EXAMPLE, "--templates", str(own), "--repo-dir", str(checkout))
    assert code == 0, err
    rollout = docs(checkout / "myapp/rollout.yaml")[0]
    assert rollout["spec"]["template"]["metadata"]["labels"] == {"app": "myapp", "team": "a"}

    (own / "service.yaml").write_text(
        (own / "service.yaml").read_text().replace("-active", "-live")
    )
    code, _, err = run(
        capsys, *EXAMPLE, "--templates", str(own), "--force", "--repo-dir", str(checkout)
    )
    assert code == 1
    assert "activeService 'myapp-active' is not a Service" in err
    (own / "ingress.yaml").unlink()
    code, _, err = run(
        capsys, *EXAMPLE, "--templates", str(own), "--dry-run", "--repo-dir", str(checkout)
    )
    assert code == 2 and "--templates" in err and "ingress.yaml" in err


def test_commit_and_push_land_on_the_remote(
    capsys: pytest.CaptureFixture[str], git_remote: GitRemote
) -> None:
    code, out, err = run(capsys, *EXAMPLE, "--push", "--repo-dir", str(git_remote.checkout))
    assert code == 0, err
    assert "and pushed" in out
    remote_files = git(git_remote.bare, "ls-tree", "-r", "--name-only", "main").split()
    assert sorted(remote_files) == [
        "README.md",
        "argocd/myapp.yaml",
        "myapp/ingress.yaml",
        "myapp/rollout.yaml",
        "myapp/service.yaml",
    ]
    message = git(git_remote.bare, "log", "-1", "--format=%s", "main")
    assert message.startswith("scaffold(myapp):")
    (application,) = docs(git_remote.checkout / "argocd/myapp.yaml")
    assert application["spec"]["source"]["repoURL"] == str(git_remote.bare)
    assert git(git_remote.checkout, "status", "--porcelain") == ""


def test_a_detached_head_needs_target_revision(
    capsys: pytest.CaptureFixture[str], git_remote: GitRemote
) -> None:
    git(git_remote.checkout, "checkout", "-q", "--detach")
    code, _, err = run(capsys, *EXAMPLE, "--repo-dir", str(git_remote.checkout))
    assert code == 2 and "--target-revision" in err
    code, _, err = run(
        capsys, *EXAMPLE, "--target-revision", "main", "--repo-dir", str(git_remote.checkout)
    )
    assert code == 0, err


@pytest.mark.slow
def test_the_built_wheel_finds_its_templates_and_schemas(tmp_path: Path) -> None:
    """Build the wheel, install it into a fresh venv (dependencies borrowed from ours, the
    package itself only from the wheel) and scaffold + lint with the installed entry point."""
    import sys
    import sysconfig

    repo = Path(__file__).resolve().parent.parent
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=repo,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("gitops_release-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Our dependencies, appended after the venv's own site-packages (a plain path entry: the
    # editable install's .pth inside it is not processed, so gitops_release comes from the wheel).
    Path(site, "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", ORIGIN)
    env = {**os.environ, "PYTHONPATH": ""}
    where = subprocess.run(
        [str(python), "-c", "import gitops_release; print(gitops_release.__file__)"],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    assert where.startswith(str(venv)), where
    scaffolded = subprocess.run(
        [str(venv / "bin" / "gitops-release"), *EXAMPLE],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert scaffolded.returncode == 0, scaffolded.stderr
    assert tree(work) == tree(GOLDEN / "default")
    linted = subprocess.run(
        [str(venv / "bin" / "release"), "lint", "myapp", "argocd/myapp.yaml"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {
        "gitops_release/templates/app/rollout.yaml",
        "gitops_release/schemas/rollout.schema.json",
        "gitops_release/schemas/LICENSES/traefik-MIT.md",
    } <= names


def test_a_repo_dir_below_the_top_prefixes_the_application_path(
    capsys: pytest.CaptureFixture[str], checkout: Path
) -> None:
    below = checkout / "envs" / "prod"
    below.mkdir(parents=True)
    code, _, err = run(capsys, *EXAMPLE, "--commit", "--repo-dir", str(below))
    assert code == 0, err
    (application,) = docs(below / "argocd/myapp.yaml")
    assert application["spec"]["source"]["path"] == "envs/prod/myapp"
    committed = git(checkout, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == [
        "envs/prod/argocd/myapp.yaml",
        "envs/prod/myapp/ingress.yaml",
        "envs/prod/myapp/rollout.yaml",
        "envs/prod/myapp/service.yaml",
    ]


def test_commit_outside_a_checkout_is_refused_before_writing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    code, _, err = run(
        capsys,
        *EXAMPLE,
        "--commit",
        "--repo-url",
        "https://g.example.com/x.git",
        "--target-revision",
        "main",
        "--repo-dir",
        str(plain),
    )
    assert code == 2 and "--commit" in err and "not a git checkout" in err
    assert list(plain.iterdir()) == []


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.text(max_size=40))
def test_any_text_stays_inside_its_scalar(value: str) -> None:
    """Property: whatever the string, the rendered YAML reads back with the same structure and
    exactly that string where the placeholder was (validation is bypassed on purpose)."""
    values: dict[str, str | int | bool | None] = {
        "app": value,
        "image": value,
        "replicas": 2,
        "revision_history_limit": 2,
        "container_port": 80,
        "auto_promote": False,
        "preview_replica_count": 1,
        "scale_down_delay_seconds": None,
        "auto_promotion_seconds": None,
        "analysis_enabled": False,
    }
    text = templating.render(ROLLOUT_TEMPLATE, values, source="rollout.yaml")
    (rollout,) = [d for d in load_all(text) if d]
    assert rollout["metadata"] == {"name": value}
    assert rollout["spec"]["template"]["spec"]["containers"][0]["image"] == value
    assert rollout["spec"]["strategy"]["blueGreen"]["previewService"] == f"{value}-preview"


ROLLOUT_TEMPLATE = (default_templates() / "rollout.yaml").read_text()


def test_the_app_name_limit_says_why(capsys: pytest.CaptureFixture[str], checkout: Path) -> None:
    name = "a" * 56
    args = list(EXAMPLE)
    args[args.index("myapp")] = name
    code, _, err = run(capsys, *args, "--repo-dir", str(checkout))
    assert code == 2 and tree(checkout) == {}
    assert "longer than 55 characters" in err
    # why 55: the preview Service is APP-preview, and a Service name is at most 63 characters
    assert f"{name}-preview" in err and "63" in err, err
    args[args.index(name)] = "a" * 55
    assert run(capsys, *args, "--repo-dir", str(checkout))[0] == 0


QUERY = 'sum(rate(http_requests_total{service="{{args.service-name}}",code=~"5.."}[1m]))'
ANALYSIS = [
    *EXAMPLE, "--analysis", "prometheus", "--query", QUERY,
    "--success-condition", "result[0] < 0.01", "--failure-condition", "result[0] >= 0.05",
]  # fmt: skip


def test_analysis_writes_a_template_next_to_the_rollout_and_the_gate_with_its_args(
    capsys: pytest.CaptureFixture[str], checkout: Path
) -> None:
    code, out, err = run(capsys, *ANALYSIS, "--kustomize", "--repo-dir", str(checkout))
    assert (code, err) == (0, ""), err
    assert "wrote myapp/analysis.yaml" in out
    [template] = docs(checkout / "myapp/analysis.yaml")
    assert template["kind"] == "AnalysisTemplate"
    assert template["metadata"] == {"name": "myapp-analysis"}
    assert template["spec"]["args"] == [{"name": "service-name"}]  # type: ignore[index]
    [metric] = template["spec"]["metrics"]  # type: ignore[index]
    assert metric == {
        "name": "prometheus", "count": 3, "interval": "30s",
        "successCondition": "result[0] < 0.01", "failureCondition": "result[0] >= 0.05",
        "provider": {"prometheus": {"address": "http://prometheus.monitoring:9090", "query": QUERY}},
    }  # fmt: skip
    crd = generate(DATA / "specs")["analysistemplate.schema.json"]
    assert schemas.problems(template, json.loads(crd)) == []  # the upstream CRD's schema
    [rollout] = docs(checkout / "myapp/rollout.yaml")
    gate = rollout["spec"]["strategy"]["blueGreen"]["prePromotionAnalysis"]  # type: ignore[index]
    assert gate == {
        "templates": [{"templateName": "myapp-analysis"}],
        "args": [{"name": "service-name", "value": "myapp-preview"}],
    }
    [kustomization] = docs(checkout / "myapp/kustomization.yaml")
    assert "analysis.yaml" in kustomization["resources"]  # type: ignore[operator]


def test_analysis_web_reads_a_json_path(capsys: pytest.CaptureFixture[str], checkout: Path) -> None:
    args = [
        *EXAMPLE, "--analysis", "web", "--url", "http://{{args.service-name}}/health",
        "--json-path", "{$.ok}", "--success-condition", "result == true",
    ]  # fmt: skip
    code, _, err = run(capsys, *args, "--repo-dir", str(checkout))
    assert code == 0, err
    [template] = docs(checkout / "myapp/analysis.yaml")
    [metric] = template["spec"]["metrics"]  # type: ignore[index]
    assert metric["provider"] == {
        "web": {"url": "http://{{args.service-name}}/health", "jsonPath": "{$.ok}"}
    }
    assert "failureCondition" not in metric


def test_without_analysis_nothing_of_it_is_written(
    capsys: pytest.CaptureFixture[str], checkout: Path
) -> None:
    code, _, _ = run(capsys, *EXAMPLE, "--kustomize", "--repo-dir", str(checkout))
    assert code == 0
    files = tree(checkout)
    assert "myapp/analysis.yaml" not in files
    assert "Analysis" not in files["myapp/rollout.yaml"] + files["myapp/kustomization.yaml"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ([*EXAMPLE, "--analysis", "datadog", "--query", "q", "--success-condition", "true"], "--analysis"),
        ([*EXAMPLE, "--analysis", "prometheus", "--success-condition", "true"], "--query"),
        ([*EXAMPLE, "--analysis", "web", "--success-condition", "true"], "--url"),
        ([*EXAMPLE, "--analysis", "web", "--url", "ftp://x", "--success-condition", "true"], "--url"),
        ([*EXAMPLE, "--analysis", "prometheus", "--query", "q"], "--success-condition"),
        ([*EXAMPLE, "--analysis", "prometheus", "--query", "q", "--success-condition", "result[0] <<< 1"], "--success-condition"),
        ([*EXAMPLE, "--analysis", "prometheus", "--query", "q", "--url", "http://x", "--success-condition", "true"], "--url"),
        ([*EXAMPLE, "--query", "q"], "--query"),
        ([*ANALYSIS, "--analysis-interval", "soon"], "--analysis-interval"),
        ([*ANALYSIS, "--analysis-count", "0"], "--analysis-count"),
    ],
    ids=["provider", "no-query", "no-url", "url-scheme", "no-condition", "bad-condition", "mixed", "no-analysis", "interval", "count"],
)  # fmt: skip
def test_bad_analysis_input_exits_2_naming_the_option(
    capsys: pytest.CaptureFixture[str], checkout: Path, args: list[str], field: str
) -> None:
    code, out, err = run(capsys, *args, "--repo-dir", str(checkout))
    assert code == 2, err
    assert field in err
    assert tree(checkout) == {} and out == ""
