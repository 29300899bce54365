"""The GitLab CI/CD component: its shape (what gitlab-ci-local ignores: environment, on_stop,
resource_group; the component context the way GitLab substitutes it) and real runs with
gitlab-ci-local (shell executor, --shell-isolation) against a sandbox: the project's own
pipeline form, and a team's pipeline that includes the component twice with the default install.

gitlab-ci-local 4.73 runs ``include: component:`` and substitutes ``$[[ component.sha ]]`` and
``reference``: for a component of another project it clones the project's templates from the
pipeline project's server and resolves the reference with ``git ls-remote``, as GitLab resolves
it. It cannot fetch a component included at a commit SHA (it clones with ``--branch <sha>``), and
its ``component.version`` differs from GitLab's (no CI/CD Catalog): those cases are covered by
``render()``, which substitutes the context the way GitLab does."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitops_release.record import DOTENV_KEYS, read_dotenv
from gitops_release.sandbox.gitserver import GitServer
from gitops_release.sandbox.prometheus import Prometheus
from gitops_release.sandbox.server import Sandbox
from gitops_release.yaml.read import load_all
from tests.conftest import REPO_ROOT, Env, Traffic, git, make_env, remote_image

COMPONENT = REPO_ROOT / "templates" / "blue-green-release.yml"
FIXTURE = REPO_ROOT / "tests" / "gitlab" / "pipeline.yml"
TWO_APPS = REPO_ROOT / "tests" / "gitlab" / "two-apps.yml"
GCL = shutil.which("gitlab-ci-local")
# Read at import: the autouse pinned_env fixture drops CI and points HOME at a temporary dir.
IN_CI = bool(os.environ.get("CI"))
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pip"
)
_INPUT = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")
_CONTEXT = re.compile(r"\$\[\[\s*component\.([\w-]+)\s*\]\]")
SHA = "0123456789abcdef0123456789abcdef01234567"


def render(
    inputs: dict[str, str], component: dict[str, str | None] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec, jobs) of the component with ``inputs`` and the component context interpolated like
    GitLab does: in the parsed YAML's keys and strings (so the file must be valid YAML before
    interpolation), only declared ``spec:component`` fields, a null version as empty text."""
    text = COMPONENT.read_text(encoding="utf-8")
    header, body = text.split("\n---\n", 1)
    spec = load_all(header, source=str(COMPONENT))[0]["spec"]
    values = {k: str(v.get("default", "")) for k, v in spec["inputs"].items()}
    values.update(inputs)
    missing = set(_INPUT.findall(body)) - set(values)
    assert not missing, f"inputs used but not declared: {missing}"
    context = {"sha": SHA, "reference": "1.0.0", "version": "1.0.0", "name": "blue-green-release"}
    context.update(component or {})
    undeclared = set(_CONTEXT.findall(body)) - set(spec.get("component", []))
    assert not undeclared, f"component context used but not in spec:component: {undeclared}"

    def interpolate(node: Any) -> Any:
        if isinstance(node, dict):
            return {interpolate(k): interpolate(v) for k, v in node.items()}
        if isinstance(node, list):
            return [interpolate(item) for item in node]
        if isinstance(node, str):
            node = _INPUT.sub(lambda m: values[m.group(1)], node)
            return _CONTEXT.sub(lambda m: context[m.group(1)] or "", node)
        return node

    return spec, interpolate(load_all(body, source=str(COMPONENT))[0])


def test_component_header_declares_the_inputs() -> None:
    spec, _ = render({"app": "myapp"})
    inputs = spec["inputs"]
    assert "default" not in inputs["app"]  # required
    for name in (
        "job-prefix",
        "tag",
        "gitops-repo",
        "argocd-server",
        "checks",
        "stage-deploy",
        "stage-promote",
        "image",
        "component-project",
        "install",
    ):
        assert name in inputs, name
    assert "TOKEN" not in json.dumps(inputs).upper().replace("_TOKEN ", "")  # no secret as input
    # gitlab-org/gitlab#601160: the component context is not interpolated in input defaults
    assert "component." not in json.dumps([v.get("default") for v in inputs.values()])
    assert spec["component"] == ["sha", "reference"]


def test_rendered_jobs_environments_stop_and_resource_group() -> None:
    _, jobs = render({"app": "shop"})
    assert set(jobs) == {
        ".shop-gitops-release",
        "shop-deploy-preview",
        "shop-promote",
        "shop-abort",
        "shop-rollback",
    }
    base = jobs[".shop-gitops-release"]
    assert base["resource_group"] == "gitops-shop"
    deploy = jobs["shop-deploy-preview"]
    assert deploy["environment"] == {
        "name": "shop/preview", "url": "$PREVIEW_URL", "on_stop": "shop-abort", "action": "start"
    }  # fmt: skip
    assert deploy["artifacts"]["reports"]["dotenv"] == "deploy.env"
    assert deploy["artifacts"]["when"] == "always"
    assert "--dotenv deploy.env" in deploy["script"][0] and "--record" in deploy["script"][0]
    promote = jobs["shop-promote"]
    assert promote["when"] == "manual" and promote["needs"] == ["shop-deploy-preview"]
    assert promote["environment"]["name"] == "shop/production"
    assert promote["environment"]["url"] == "$PROD_URL"
    assert jobs["shop-abort"]["when"] == "manual"
    assert jobs["shop-abort"]["needs"] == ["shop-deploy-preview"]
    assert jobs["shop-abort"]["environment"] == {"name": "shop/preview", "action": "stop"}
    assert jobs["shop-rollback"]["when"] == "manual"
    assert jobs["shop-rollback"]["dependencies"] == []  # no other include's dotenv
    for name in ("deploy-preview", "promote", "abort", "rollback"):
        assert jobs[f"shop-{name}"]["extends"] == ".shop-gitops-release"
    text = json.dumps(jobs)
    assert "ARGOCD_AUTH_TOKEN" not in text and "GIT_TOKEN" not in text  # only from CI variables


def test_two_includes_do_not_collide() -> None:
    """Two apps, and one app twice with a job-prefix: no job, environment or resource group of
    one include is another's, and each include's references stay inside it."""
    includes = [{"app": "myapp"}, {"app": "shop"}, {"app": "myapp", "job-prefix": "staging-"}]
    seen: dict[str, set[str]] = {"jobs": set(), "environments": set(), "groups": set()}
    for inputs in includes:
        _, jobs = render(inputs)
        own = set(jobs)
        environments = {j["environment"]["name"] for j in jobs.values() if "environment" in j}
        groups = {j["resource_group"] for j in jobs.values() if "resource_group" in j}
        for key, names in (("jobs", own), ("environments", environments), ("groups", groups)):
            assert not names & seen[key], (inputs, names & seen[key])
            seen[key] |= names
        for job in jobs.values():
            refs = [job.get("extends"), *job.get("needs", [])]
            refs.append(job.get("environment", {}).get("on_stop"))
            assert {r for r in refs if r} <= own, (inputs, refs)
    assert "staging-myapp-deploy-preview" in seen["jobs"]
    assert "staging-myapp/preview" in seen["environments"]
    assert "gitops-staging-myapp" in seen["groups"]


def _job_env(variables: dict[str, Any], **extra: str) -> dict[str, str]:
    """A job's environment as the runner builds it from ``variables`` (expand: false kept raw)."""
    env = {k: v["value"] if isinstance(v, dict) else v for k, v in variables.items()}
    return {**{k: "" if v is None else str(v) for k, v in env.items()}, **extra}


def _stub_python(tmp_path: Path) -> Path:
    """A ``python3`` whose ``-m venv DIR`` makes DIR/bin/python, which records its argv and the
    git configuration it was given instead of installing anything."""
    stub = tmp_path / "stub-bin"
    stub.mkdir()
    record = tmp_path / "pip-call.json"
    recorder = (
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'git': {{k: v for k, v in os.environ.items() "
        f"if k.startswith('GIT_CONFIG_')}}}}, open({str(record)!r}, 'w'))\n"
    )
    python3 = stub / "python3"
    python3.write_text(
        "#!/bin/sh\n"
        '[ "$1 $2" = "-m venv" ] || exit 9\n'
        'mkdir -p "$3/bin"\n'
        f"cat > \"$3/bin/python\" <<'EOF'\n{recorder}EOF\n"
        'chmod +x "$3/bin/python"\n'
    )
    python3.chmod(python3.stat().st_mode | stat.S_IXUSR)
    return record


@pytest.mark.parametrize(
    ("reference", "version", "project"),
    [
        ("1.0.0", "1.0.0", ""),  # a release tag: what the two-apps pipeline runs for real
        ("1.0", "1.0.2", ""),  # a partial version from the CI/CD Catalog
        (SHA, None, "tools/gitops-release"),  # a commit: gitlab-ci-local cannot fetch that
        ("main", None, ""),  # a branch
    ],
)
def test_default_install_builds_the_command_from_the_component_context(
    tmp_path: Path, reference: str, version: str | None, project: str
) -> None:
    """What GitLab 18.6+ substitutes, run through the job's install script with a recording
    python3: pip installs exactly component.sha from the component project on this instance,
    and the job token reaches git only through a credential helper (never argv or a URL)."""
    inputs = {"app": "shop", **({"component-project": project} if project else {})}
    _, jobs = render(inputs, {"sha": SHA, "reference": reference, "version": version})
    base = jobs[".shop-gitops-release"]
    record = _stub_python(tmp_path)
    token = "job-token-" + secrets.token_hex(4)
    env = _job_env(
        base["variables"],
        CI_SERVER_URL="https://gitlab.example.com/git",  # a relative URL root: git/ is its path
        CI_SERVER_PROTOCOL="https",
        CI_SERVER_FQDN="gitlab.example.com",
        CI_JOB_TOKEN=token,
        PATH=f"{tmp_path / 'stub-bin'}{os.pathsep}/usr/bin{os.pathsep}/bin",
        TMPDIR=str(tmp_path),
    )
    proc = subprocess.run(
        ["sh", "-ec", base["before_script"][0]], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert f"at {reference} ({SHA})" in proc.stdout
    call = json.loads(record.read_text())
    source = f"git+https://gitlab.example.com/git/{project or 'platform/gitops-release'}.git"
    assert call["argv"] == [
        "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        f"gitops-release @ {source}@{SHA}",
    ]  # fmt: skip
    assert call["git"]["GIT_CONFIG_KEY_0"] == "credential.https://gitlab.example.com.helper"
    assert token not in json.dumps(call) + proc.stdout + proc.stderr
    # real git, with that configuration, asks the helper and gets the job token
    asked = subprocess.run(
        ["git", "credential", "fill"],
        input="protocol=https\nhost=gitlab.example.com\npath=git/platform/gitops-release.git\n\n",
        env={**os.environ, **call["git"], "CI_JOB_TOKEN": token, "GIT_TERMINAL_PROMPT": "0"},
        capture_output=True,
        text=True,
    )
    assert asked.returncode == 0, asked.stderr
    assert {"username=gitlab-ci-token", f"password={token}"} <= set(asked.stdout.split())
    elsewhere = subprocess.run(
        ["git", "credential", "fill"],
        input="protocol=https\nhost=pypi.example.com\n\n",
        env={**os.environ, **call["git"], "CI_JOB_TOKEN": token, "GIT_TERMINAL_PROMPT": "0"},
        capture_output=True,
        text=True,
    )
    assert token not in elsewhere.stdout  # only this GitLab instance is given the job token


def test_install_input_replaces_the_default(tmp_path: Path) -> None:
    _, jobs = render({"app": "shop", "install": 'echo "from $INDEX_URL"'})
    base = jobs[".shop-gitops-release"]
    assert base["variables"]["GR_INSTALL"]["expand"] is False  # the shell expands $INDEX_URL
    record = _stub_python(tmp_path)
    env = _job_env(base["variables"], PATH=f"{tmp_path / 'stub-bin'}{os.pathsep}/usr/bin:/bin")
    env["INDEX_URL"] = "https://pypi.example.com/simple"
    proc = subprocess.run(
        ["sh", "-ec", base["before_script"][0]], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "from https://pypi.example.com/simple\n"
    assert not record.exists()  # the default install did not run


def _promote_calls(tmp_path: Path, inputs: dict[str, str]) -> list[list[str]]:
    """The promote job's script run with a ``gitops-release`` that records each call."""
    _, jobs = render({"app": "shop", **inputs})
    job = jobs["shop-promote"]
    variables = {**jobs[".shop-gitops-release"]["variables"], **(job.get("variables") or {})}
    stub = tmp_path / "bin"
    stub.mkdir(parents=True)
    calls = tmp_path / "calls.txt"
    tool = stub / "gitops-release"
    tool.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> {calls}\necho >> {calls}\n')
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    env = _job_env(variables, PATH=f"{stub}{os.pathsep}/usr/bin{os.pathsep}/bin")
    proc = subprocess.run(
        ["sh", "-ec", job["script"][0]], env=env, capture_output=True, text=True, cwd=tmp_path
    )  # the job writes promote-record.json where it runs: never into this checkout
    assert proc.returncode == 0, proc.stderr
    return [line.rstrip("|").split("|") for line in calls.read_text().splitlines()]


def test_promote_runs_the_analysis_gate_first_when_asked(tmp_path: Path) -> None:
    calls = _promote_calls(
        tmp_path, {"analysis": "error-rate", "analysis-args": "service-name=shop-preview x=1"}
    )
    assert calls[0] == [
        "verify", "shop", "--analysis", "error-rate", "--timeout", "10m",
        "--arg", "service-name=shop-preview", "--arg", "x=1",
    ]  # fmt: skip
    assert [c[0] for c in calls[1:]] == ["verify", "promote", "verify"]
    assert not any("--analysis" in c for c in _promote_calls(tmp_path / "none", {}))


def test_job_scripts_are_posix_sh() -> None:
    _, jobs = render({"app": "myapp"})
    sh = shutil.which("dash") or shutil.which("sh")
    assert sh
    for name, job in jobs.items():
        for key in ("before_script", "script"):
            for line in job.get(key) or []:
                proc = subprocess.run([sh, "-n", "-c", line], capture_output=True, text=True)
                assert proc.returncode == 0, f"{name}.{key}: {line!r}: {proc.stderr}"


def test_project_pipeline_includes_the_component_against_the_sandbox() -> None:
    pipeline = load_all((REPO_ROOT / ".gitlab-ci.yml").read_text(), source=".gitlab-ci.yml")[0]
    include = pipeline["include"][0]
    # its own component at the pipeline's commit: the component context needs include:component
    assert (
        include["component"] == "$CI_SERVER_FQDN/$CI_PROJECT_PATH/blue-green-release@$CI_COMMIT_SHA"
    )
    assert include["inputs"]["argocd-server"] == "$SANDBOX_ARGOCD_SERVER"
    assert include["inputs"]["component-project"] == "$CI_PROJECT_PATH"
    assert "install" not in include["inputs"]  # the default install, from this very commit
    assert {"lint", "test", "build", "release-demo"} <= set(pipeline["stages"])
    _, jobs = render(include["inputs"])
    overridden = {name for name in pipeline if name.startswith(include["inputs"]["app"] + "-")}
    assert overridden == {name for name in jobs if not name.startswith(".")}
    assert pipeline["myapp-promote"]["rules"][0]["when"] == "manual"


# -- real runs with gitlab-ci-local -------------------------------------------------------------


def need_gitlab_ci_local() -> None:
    """Skip on a developer machine without the tools; in CI their absence is a failure."""
    missing = [tool for tool in ("gitlab-ci-local", "rsync") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not installed (.ci/run installs them)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def gcl(
    proj: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if env is None:  # the tool on PATH, as in an image that has it
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "GITOPS_"))}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [
            GCL or "gitlab-ci-local",
            "--shell-isolation",
            "--force-shell-executor",
            "--no-color",
            *args,
        ],
        cwd=proj,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def write_variables(proj: Path, variables: dict[str, str]) -> None:
    """The CI/CD variables: a file, as a project's settings would hold them (never argv)."""
    (proj / ".gitlab-ci-local-variables.yml").write_text(
        "".join(f"{k}: {json.dumps(v)}\n" for k, v in variables.items())
    )


def sandbox_variables(sandbox: Sandbox) -> dict[str, str]:
    return {
        "ARGOCD_SERVER": sandbox.argocd_url,
        "ARGOCD_AUTH_TOKEN": sandbox.token,
        "GITOPS_RELEASE_GIT_TOKEN": sandbox.git_token,
        "GITOPS_RELEASE_HTTP_RETRIES": "2",
        "GITOPS_RELEASE_VERIFY_IMAGE": "off",  # the sandbox's images are on Docker Hub
        "SANDBOX_INGRESS": sandbox.ingress_url,
    }


def artifact(proj: Path, job: str, name: str) -> Path:
    found = sorted((proj / ".gitlab-ci-local").rglob(name))
    found = [p for p in found if job in str(p)] or found
    assert found, f"no artifact {name} of {job}"
    return found[0]


@pytest.fixture
def project(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
) -> tuple[Env, Path]:
    """The component project's own pipeline: it includes its own component at its commit."""
    need_gitlab_ci_local()
    e = make_env(tmp_path, monkeypatch, capsys, sandbox)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sandbox.git_token)
    e.create_app()
    e.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
    proj = tmp_path / "ci-project"
    (proj / "templates").mkdir(parents=True)
    shutil.copy(COMPONENT, proj / "templates" / COMPONENT.name)
    shutil.copy(FIXTURE, proj / ".gitlab-ci.yml")
    write_variables(proj, sandbox_variables(sandbox))
    git(proj, "init", "-q", "-b", "main")
    git(proj, "remote", "add", "origin", "https://gitlab.example.com/team/ci-project.git")
    git(proj, "add", "templates", ".gitlab-ci.yml")
    git(proj, "commit", "-qm", "pipeline")
    return e, proj


def test_pipeline_deploy_preview_promote_rollback_abort(project: tuple[Env, Path]) -> None:
    e, proj = project
    run = gcl(proj, "--variable", "RELEASE_TAG=v2", "myapp-deploy-preview")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "preview-ready" in run.stdout
    # the install input ran as shell in the job, in place of the default install
    assert f"comes with the image, at {Path(sys.executable).parent}/gitops-release" in run.stdout
    assert "installing gitops-release from" not in run.stdout
    record = json.loads(artifact(proj, "deploy-preview", "release-record.json").read_text())
    assert record["outcome"] == "preview-ready" and record["new_tag"] == "v2"
    dotenv = read_dotenv(artifact(proj, "deploy-preview", "deploy.env").read_text())
    assert list(dotenv) == list(DOTENV_KEYS) and dotenv["PREVIEW_URL"] == "http://test.myapp.com"
    assert "Version: v1" in str(e.host("prod.myapp.com"))
    assert "Version: v2" in str(e.host("test.myapp.com"))
    assert e.sb.token not in run.stdout + run.stderr
    assert remote_image(e) == "ikubernetes/myapp:v2"

    run = gcl(proj, "--variable", "RELEASE_TAG=v2", "myapp-promote")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Version: v2" in str(e.host("prod.myapp.com"))
    assert json.loads(artifact(proj, "promote", "promote-record.json").read_text())["changed"]

    run = gcl(
        proj, "--variable", "RELEASE_TAG=v2", "--variable", "ROLLBACK_TO=v1", "myapp-rollback"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert remote_image(e) == "ikubernetes/myapp:v1"
    assert "Version: v1" in str(e.host("prod.myapp.com"))
    record = json.loads(artifact(proj, "rollback", "rollback-record.json").read_text())
    assert record["outcome"] == "released" and record["to_image"] == "ikubernetes/myapp:v1"

    # a new release in preview, then the manual abort job: stable again in Git and cluster
    run = gcl(proj, "--variable", "RELEASE_TAG=v3", "myapp-deploy-preview")
    assert run.returncode == 0, run.stdout + run.stderr
    assert remote_image(e) == "ikubernetes/myapp:v3"
    assert "Version: v3" in str(e.host("test.myapp.com"))
    run = gcl(proj, "--variable", "RELEASE_TAG=v3", "myapp-abort")
    assert run.returncode == 0, run.stdout + run.stderr
    assert remote_image(e) == "ikubernetes/myapp:v1"
    status = json.loads(e.ok("status", "myapp", "-o", "json"))
    assert status["health"] == "Healthy" and status["revision"] == e.git("rev-parse", "HEAD")
    assert "Version: v1" in str(e.host("prod.myapp.com"))
    record = json.loads(artifact(proj, "abort", "abort-record.json").read_text())
    assert record["outcome"] == "reverted" and record["to_image"] == "ikubernetes/myapp:v1"


# -- the component included twice, installing the tool itself ----------------------------------


@dataclass
class Forge:
    """The GitLab instance's git side on 127.0.0.1, with private projects (fetching needs a
    token, as an internal or private component project does)."""

    server: GitServer
    token: str

    def git_env(self, user: str) -> dict[str, str]:
        """git configuration, in the environment only, that authenticates to the forge."""
        basic = base64.b64encode(f"{user}:{self.token}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{self.server.base_url}/.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }

    def users_of(self, project: str) -> set[str | None]:
        """Who fetched ``project`` (None: a request without credentials)."""
        return {
            entry.user for entry in self.server.log if entry.path.startswith(f"/{project}.git/")
        }


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[Forge]:
    token = secrets.token_hex(12)
    with GitServer(tmp_path / "forge", token=token, auth_fetch=True) as server:
        yield Forge(server, token)


def publish_working_tree(forge: Forge, dest: Path, project: str, tag: str) -> str:
    """The component project at the commit under test: this checkout's working tree (tracked
    and new files, as `git status` sees them) committed, tagged ``tag`` and pushed to ``project``
    on the forge. Returns the commit."""
    listed = git(REPO_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # deleted but still in the index: not part of the tree under test
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "the working tree under test")
    git(dest, "tag", tag)
    forge.server.create_repo(f"{project}.git")
    subprocess.run(
        ["git", "push", "-q", forge.server.url(f"{project}.git"), "main", tag],
        cwd=dest, env={**os.environ, **forge.git_env("maintainer")}, check=True,
        capture_output=True,
    )  # fmt: skip
    return git(dest, "rev-parse", "HEAD")


def add_app(e: Env, app: str) -> None:
    """A second app beside the sandbox's myapp, scaffolded by the tool and created in Argo CD."""
    e.ok(
        "scaffold", app, "--image", "ikubernetes/myapp:v1", "--prod-host", f"prod.{app}.com",
        "--preview-host", f"test.{app}.com", "--repo-dir", str(e.repo),
        "--repo-url", e.sb.repo_url("gitops"), "--target-revision", "main",
    )  # fmt: skip
    e.git("add", ".")
    e.git("commit", "-qm", f"add {app}")
    e.git("push", "-q", "origin", "main")
    e.ok("app", "create", "--file", str(e.repo / "argocd" / f"{app}.yaml"))


def images_in_git(e: Env, *apps: str) -> dict[str, str]:
    e.git("pull", "-q", "origin", "main")
    found = {}
    for app in apps:
        text = (e.repo / app / "rollout.yaml").read_text()
        found[app] = re.findall(r"^\s+image: (\S+)", text, re.M)[0]
    return found


def test_included_twice_each_job_installs_the_tool_and_releases_its_app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
    forge: Forge,
) -> None:
    """A team's pipeline includes the component twice (myapp, shop) from the component project
    at tag 1.0.0, with the default install: each deploy-preview job installs gitops-release
    from the forge at the tag's commit (the working tree under test) into a fresh venv, with no
    gitops-release on the job's PATH before, and both apps end in preview."""
    need_gitlab_ci_local()
    e = make_env(tmp_path, monkeypatch, capsys, sandbox)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sandbox.git_token)
    e.create_app()
    add_app(e, "shop")
    for app in ("myapp", "shop"):
        e.ok("wait", app, "--for", "released", "--timeout", "60s")
    sha = publish_working_tree(forge, tmp_path / "component", "platform/gitops-release", "1.0.0")

    proj = tmp_path / "team-project"
    proj.mkdir()
    shutil.copy(TWO_APPS, proj / ".gitlab-ci.yml")
    # gitlab-ci-local fetches two includes of one component@ref at the same time into one
    # folder, and the second copy fails ("File exists") when they overlap; it skips a fetch
    # whose files are there. GitLab itself has no such race. So list a pipeline that includes
    # the component once first: the real run then finds it fetched and fetches nothing.
    first, second, _ = TWO_APPS.read_text().split("\n  - component:")
    (proj / "fetch-once.yml").write_text(f"{first}\n  - component:{second}\n")
    write_variables(proj, {**sandbox_variables(sandbox), "CI_JOB_TOKEN": forge.token})
    git(proj, "init", "-q", "-b", "main")
    git(proj, "remote", "add", "origin", forge.server.url("team/project.git"))
    git(proj, "add", ".gitlab-ci.yml", "fetch-once.yml")
    git(proj, "commit", "-qm", "pipeline")

    # The job's PATH: the base Python and the system, nothing that has gitops-release.
    paths = [str(Path(sys.base_prefix) / "bin")]
    paths += [
        d for d in os.environ["PATH"].split(os.pathsep) if not Path(d, "gitops-release").exists()
    ]
    job_path = os.pathsep.join(paths)
    assert shutil.which("gitops-release", path=job_path) is None
    job_tmp = tmp_path / "job-tmp"
    job_tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "GITOPS_"))}
    env.update(PATH=job_path, TMPDIR=str(job_tmp), PIP_CACHE_DIR=PIP_CACHE)
    env.update(forge.git_env("gitlab-ci-local"))  # gitlab-ci-local's own fetch of the component

    listed = gcl(proj, "--file", "fetch-once.yml", "--list", env=env)
    assert listed.returncode == 0 and "myapp-deploy-preview" in listed.stdout, listed.stderr
    run = gcl(proj, "--variable", "RELEASE_TAG=v2", env=env)  # the pipeline: manual jobs wait
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    source = f"{forge.server.base_url}/platform/gitops-release.git"
    for app in ("myapp", "shop"):
        assert re.search(rf"PASS\s+{app}-deploy-preview\b", out), out
        assert f"installing gitops-release from {source} at 1.0.0 ({sha})" in out
        record = json.loads(
            artifact(proj, f"{app}-deploy-preview", "release-record.json").read_text()
        )
        assert record["outcome"] == "preview-ready" and record["new_tag"] == "v2", record
        dotenv = read_dotenv(artifact(proj, f"{app}-deploy-preview", "deploy.env").read_text())
        assert dotenv["PREVIEW_URL"] == f"http://test.{app}.com"
        assert "Version: v2" in str(e.host(f"test.{app}.com"))
        assert "Version: v1" in str(e.host(f"prod.{app}.com"))
    assert images_in_git(e, "myapp", "shop") == {
        "myapp": "ikubernetes/myapp:v2", "shop": "ikubernetes/myapp:v2"
    }  # fmt: skip
    # Each job ran the gitops-release it installed: two fresh venvs, from the forge at the commit.
    venvs = sorted(job_tmp.glob("*/venv"))
    assert len(venvs) == 2, venvs
    for venv in venvs:
        assert f"{venv}/bin/gitops-release" in out  # the job's `command -v gitops-release`
        (direct_url,) = venv.glob(
            "lib/python*/site-packages/gitops_release-*.dist-info/direct_url.json"
        )
        origin = json.loads(direct_url.read_text())
        assert origin["url"] == source and origin["vcs_info"]["commit_id"] == sha, origin
    # pip's git authenticated with the job token, through the component's credential helper
    assert "gitlab-ci-token" in forge.users_of("platform/gitops-release")
    for secret in (forge.token, sandbox.token, sandbox.git_token):
        assert secret not in out


# -- the registry check with GitLab's CI_REGISTRY_* variables ----------------------------------


@pytest.fixture
def gitlab_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The project's container registry: the real docker-registry with htpasswd basic auth."""
    from tests.registry.server import start, stop

    registry = start(tmp_path_factory.mktemp("gitlab-registry"), "basic")
    yield registry
    stop(registry)


def test_the_registry_check_uses_ci_registry_variables_alone(
    project: tuple[Env, Path], gitlab_registry: Any
) -> None:
    """With GitLab's CI_REGISTRY, CI_REGISTRY_USER and CI_REGISTRY_PASSWORD as its only registry
    configuration (the check at its default, on), the deploy job releases a pushed tag, and
    refuses a tag the registry does not have before Git is touched."""
    e, proj = project
    reg = gitlab_registry
    reg.push("team/myapp", "v2")
    shutil.copy(REPO_ROOT / "tests" / "gitlab" / "registry.yml", proj / ".gitlab-ci.yml")
    git(proj, "commit", "-qam", "the registry's image")
    variables = sandbox_variables(e.sb)
    del variables["GITOPS_RELEASE_VERIFY_IMAGE"]
    variables.update(CI_REGISTRY=reg.host, CI_REGISTRY_USER=reg.user)
    variables.update(CI_REGISTRY_PASSWORD=reg.password)
    write_variables(proj, variables)

    tip = e.git("ls-remote", "origin", "main")
    run = gcl(proj, "--variable", "RELEASE_TAG=v9", "myapp-deploy-preview")
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert f"registry {reg.host} has no tag v9 in team/myapp" in out
    assert "nearest existing: v2" in out
    assert e.git("ls-remote", "origin", "main") == tip  # refused before Git

    run = gcl(proj, "--variable", "RELEASE_TAG=v2", "myapp-deploy-preview")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert "preview-ready" in out
    assert remote_image(e) == f"{reg.host}/team/myapp:v2"
    assert "Version: v2" in str(e.host("test.myapp.com"))
    assert reg.password not in out


# -- the promote job's analysis gate, measured by a real Prometheus ---------------------------

GATE_QUERY = (
    '(sum(rate(http_requests_total{code=~"5..",version="{{args.version}}"}[10s])) or vector(0))'
    ' / sum(rate(http_requests_total{version="{{args.version}}"}[10s]))'
)
GATE_TEMPLATE = """apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: preview-error-rate
spec:
  args:
  - name: version
  metrics:
  - name: error-rate
    initialDelay: 3s
    interval: 1s
    count: 3
    successCondition: len(result) > 0 && result[0] < 0.05
    failureCondition: len(result) > 0 && result[0] >= 0.05
    provider:
      prometheus:
        address: "{address}"
        query: '{query}'
"""


def test_promote_job_runs_the_analysis_input_against_prometheus_first(
    project: tuple[Env, Path], prometheus: Prometheus
) -> None:
    """The component's ``analysis`` / ``analysis-args`` inputs under gitlab-ci-local: the promote
    job measures the preview's error rate with ``verify --analysis`` (a real Prometheus scraping
    the sandbox's pods, users on both hosts) before promoting. v2 passes and is promoted; v3
    answering one request in five with 500 fails the job, naming the metric and its value, and
    prod stays on v2."""
    e, proj = project
    (proj / "analysis.yaml").write_text(
        GATE_TEMPLATE.format(address=prometheus.url, query=GATE_QUERY.replace("'", "''"))
    )
    pipeline = (proj / ".gitlab-ci.yml").read_text()
    pipeline += "      analysis: analysis.yaml\n      analysis-args: version=$RELEASE_TAG\n"
    (proj / ".gitlab-ci.yml").write_text(pipeline)
    git(proj, "add", ".")
    git(proj, "commit", "-qm", "promote behind an analysis gate")

    run = gcl(proj, "--variable", "RELEASE_TAG=v2", "myapp-deploy-preview")
    assert run.returncode == 0, run.stdout + run.stderr
    with Traffic(e.sb):
        run = gcl(proj, "--variable", "RELEASE_TAG=v2", "myapp-promote")
    log = run.stdout + run.stderr  # gitlab-ci-local passes the job's stderr on as its own
    assert run.returncode == 0, log
    for n in (1, 2, 3):  # each measurement in the job's log
        assert f"{n} of 3 measurements ({n} successful)" in log, log
    assert "analysis preview-error-rate (analysis.yaml): Successful" in log, log
    assert "Version: v2" in str(e.host("prod.myapp.com"))

    e.sb.fail_image("ikubernetes/myapp:v3", "http-500", rate=0.2)
    run = gcl(proj, "--variable", "RELEASE_TAG=v3", "myapp-deploy-preview")
    assert run.returncode == 0, run.stdout + run.stderr
    with Traffic(e.sb) as users:
        run = gcl(proj, "--variable", "RELEASE_TAG=v3", "myapp-promote")
    log = run.stdout + run.stderr
    assert run.returncode != 0, log
    assert "FAIL  myapp-promote" in run.stdout, log
    found = re.search(
        r'error: analysis preview-error-rate Failed: .*metric "error-rate" .*'
        r"last value \[(0\.\d+)\]",
        log,
    )
    assert found and 0.1 < float(found[1]) < 0.3, log
    assert "Version: v2" in str(e.host("prod.myapp.com"))  # not promoted
    assert "Version: v3" not in users.prod_answers
    assert e.sb.token not in run.stdout + run.stderr
