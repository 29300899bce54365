"""The promote-environment GitLab CI/CD component (issue 17): its shape (a manual job per step of
the environment chain, each with its GitLab environment and resource_group, includable beside
blue-green-release without a collision), and a real run with gitlab-ci-local (shell executor)
against a sandbox with myapp-dev, myapp-staging and myapp-prod."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gitops_release.record import read_dotenv
from gitops_release.sandbox.server import Sandbox
from gitops_release.yaml.read import load_all
from tests.conftest import APP_YAML, AUTO, REPO_ROOT, Env, git, make_env

TEMPLATES = REPO_ROOT / "templates"
COMPONENT = TEMPLATES / "promote-environment.yml"
PIPELINE = REPO_ROOT / "tests" / "gitlab" / "promote-pipeline.yml"
IN_CI = bool(os.environ.get("CI"))  # read at import: the autouse fixture drops CI
_INPUT = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")
_CONTEXT = re.compile(r"\$\[\[\s*component\.([\w-]+)\s*\]\]")
CONFIG = (
    '[[environments]]\nname = "dev"\n\n[[environments]]\nname = "staging"\n\n'
    '[[environments]]\nname = "prod"\n'
)


def render(path: Path, inputs: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec, jobs) of a component with ``inputs`` interpolated as GitLab does (in the parsed
    YAML's keys and strings; the component context as a fixed commit)."""
    header, body = path.read_text(encoding="utf-8").split("\n---\n", 1)
    spec = load_all(header, source=str(path))[0]["spec"]
    values = {k: str(v.get("default", "")) for k, v in spec["inputs"].items()}
    values.update(inputs)
    assert not set(_INPUT.findall(body)) - set(values), "inputs used but not declared"
    assert set(_CONTEXT.findall(body)) <= set(spec.get("component", []))
    context = {"sha": "0" * 40, "reference": "1.0.0"}

    def interpolate(node: Any) -> Any:
        if isinstance(node, dict):
            return {interpolate(k): interpolate(v) for k, v in node.items()}
        if isinstance(node, list):
            return [interpolate(item) for item in node]
        if isinstance(node, str):
            node = _INPUT.sub(lambda m: values[m.group(1)], node)
            return _CONTEXT.sub(lambda m: context[m.group(1)], node)
        return node

    return spec, interpolate(load_all(body, source=str(path))[0])


def test_a_manual_job_per_step_of_the_chain_with_environment_and_resource_group() -> None:
    spec, jobs = render(COMPONENT, {"apps": "api worker"})
    assert "default" not in spec["inputs"]["apps"]  # required
    assert "TOKEN" not in json.dumps(spec["inputs"]).upper()  # no secret as an input
    assert set(jobs) == {".promote-environment", "promote-to-staging", "promote-to-prod"}
    base = jobs[".promote-environment"]
    assert base["when"] == "manual" and base["dependencies"] == []
    assert base["artifacts"]["reports"]["dotenv"] == "promote.env"
    for job, source, target in (
        ("promote-to-staging", "dev", "staging"),
        ("promote-to-prod", "staging", "prod"),
    ):
        assert jobs[job]["extends"] == ".promote-environment"
        assert jobs[job]["variables"] == {"GR_FROM": source, "GR_TO": target}
        assert jobs[job]["environment"] == {"name": target, "action": "start"}
        assert jobs[job]["resource_group"] == f"gitops-{target}"
    text = json.dumps(jobs)
    assert "ARGOCD_AUTH_TOKEN" not in text and "GIT_TOKEN" not in text
    sh = shutil.which("dash") or shutil.which("sh")
    assert sh
    for name, job in jobs.items():
        for line in [*job.get("before_script", []), *job.get("script", [])]:
            proc = subprocess.run([sh, "-n", "-c", line], capture_output=True, text=True)
            assert proc.returncode == 0, f"{name}: {line!r}: {proc.stderr}"


def test_the_script_promotes_every_app_with_the_chain_step(tmp_path: Path) -> None:
    """The job's script, run by sh with a recording gitops-release: the apps, --from/--to of the
    job, --promote, the record and dotenv, the optional inputs only when given."""
    _, jobs = render(COMPONENT, {"apps": "api worker", "soak": "30m", "checks": "preview prod"})
    base, job = jobs[".promote-environment"], jobs["promote-to-prod"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    args = tmp_path / "args.json"
    tool = bin_dir / "gitops-release"
    tool.write_text(
        f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(args)!r}, 'w'))\n"
    )
    tool.chmod(0o755)
    variables = {**base["variables"], **job["variables"]}
    env = {k: str(v["value"] if isinstance(v, dict) else v) for k, v in variables.items()}
    env["PATH"] = f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"
    proc = subprocess.run(["sh", "-ec", base["script"][0]], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(args.read_text()) == [
        "env", "promote", "api", "worker", "--from", "staging", "--to", "prod", "--promote",
        "--timeout", "10m", "--record", "promote-record.json", "--dotenv", "promote.env",
        "--soak", "30m", "--check", "preview", "--check", "prod",
    ]  # fmt: skip


def test_includable_beside_the_blue_green_component() -> None:
    """One pipeline with both: no job, environment or resource group of one is the other's."""
    seen: dict[str, set[str]] = {"jobs": set(), "environments": set(), "groups": set()}
    for path, inputs in (
        (TEMPLATES / "blue-green-release.yml", {"app": "myapp-dev"}),
        (COMPONENT, {"apps": "myapp"}),
        (COMPONENT, {"apps": "shop", "job-prefix": "shop-"}),
    ):
        _, jobs = render(path, inputs)
        envs = {j["environment"]["name"] for j in jobs.values() if "environment" in j}
        groups = {j["resource_group"] for j in jobs.values() if "resource_group" in j}
        for key, names in (("jobs", set(jobs)), ("environments", envs), ("groups", groups)):
            assert not names & seen[key], (inputs, names & seen[key])
            seen[key] |= names
    assert "shop-promote-to-prod" in seen["jobs"] and "shop-prod" in seen["environments"]


# -- a real run with gitlab-ci-local -------------------------------------------------------------


def need_gitlab_ci_local() -> None:
    """Skip on a developer machine without the tools; in CI their absence is a failure."""
    missing = [tool for tool in ("gitlab-ci-local", "rsync") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not installed (.ci/run installs them)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def gcl(proj: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARGOCD_", "GITOPS_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [
            shutil.which("gitlab-ci-local") or "gitlab-ci-local", "--shell-isolation",
            "--force-shell-executor", "--no-color", *args,
        ],
        cwd=proj, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _image(env: Env, name: str) -> str:
    env.git("pull", "-q", "origin", "main")
    text = (env.repo / name / "rollout.yaml").read_text()
    return next(line.split()[-1] for line in text.splitlines() if "image:" in line)


@pytest.fixture
def project(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sandbox: Sandbox,
) -> tuple[Env, Path]:
    need_gitlab_ci_local()
    env = make_env(tmp_path, monkeypatch, capsys, sandbox)
    monkeypatch.setenv("GITOPS_RELEASE_GIT_TOKEN", sandbox.git_token)
    for name in ("dev", "staging", "prod"):
        shutil.copytree(env.repo / "myapp", env.repo / f"myapp-{name}")
    shutil.rmtree(env.repo / "myapp")
    env.git("add", "-A")
    env.git("commit", "-qm", "myapp in dev, staging, prod")
    env.git("push", "-q", "origin", "main")
    for name in ("dev", "staging", "prod"):
        manifest = (
            APP_YAML.format(repo=sandbox.repo_url("gitops"), policy=AUTO)
            .replace("name: myapp\n", f"name: myapp-{name}\n")
            .replace("path: myapp\n", f"path: myapp-{name}\n")
            .replace("namespace: default\n", f"namespace: {name}\n")
        )
        (tmp_path / f"app-{name}.yaml").write_text(manifest)
        env.ok("app", "create", "--file", str(tmp_path / f"app-{name}.yaml"))
    for name in ("dev", "staging", "prod"):
        env.ok("wait", f"myapp-{name}", "--for", "released", "--timeout", "60s")
    proj = tmp_path / "ci-project"
    (proj / "templates").mkdir(parents=True)
    for component in ("blue-green-release.yml", "promote-environment.yml"):
        shutil.copy(TEMPLATES / component, proj / "templates" / component)
    shutil.copy(PIPELINE, proj / ".gitlab-ci.yml")
    (proj / "gitops-release.toml").write_text(CONFIG)
    variables = {
        "ARGOCD_SERVER": sandbox.argocd_url,
        "ARGOCD_AUTH_TOKEN": sandbox.token,
        "GITOPS_RELEASE_GIT_TOKEN": sandbox.git_token,
        "GITOPS_RELEASE_HTTP_RETRIES": "2",
        "GITOPS_RELEASE_VERIFY_IMAGE": "off",  # the sandbox's images are on Docker Hub
    }
    (proj / ".gitlab-ci-local-variables.yml").write_text(
        "".join(f"{k}: {json.dumps(v)}\n" for k, v in variables.items())
    )
    git(proj, "init", "-q", "-b", "main")
    git(proj, "remote", "add", "origin", "https://gitlab.example.com/team/ci-project.git")
    git(proj, "add", "templates", ".gitlab-ci.yml", "gitops-release.toml")
    git(proj, "commit", "-qm", "pipeline")
    return env, proj


def _artifact(proj: Path, job: str, name: str) -> Path:
    found = [p for p in sorted((proj / ".gitlab-ci-local").rglob(name)) if job in str(p)]
    assert found, f"no artifact {name} of {job}"
    return found[0]


def test_promote_jobs_walk_the_chain_on_the_sandbox(project: tuple[Env, Path]) -> None:
    env, proj = project
    listed = gcl(proj, "--list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for job in ("myapp-dev-deploy-preview", "promote-to-staging", "promote-to-prod"):
        assert job in listed.stdout, listed.stdout
    env.ok("deploy", "v2", "--app", "myapp-dev", "--promote", "--timeout", "60s")

    run = gcl(proj, "promote-to-staging")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert _image(env, "myapp-staging") == "ikubernetes/myapp:v2"
    assert _image(env, "myapp-prod") == "ikubernetes/myapp:v1"
    assert "Promoted-From: dev@" in env.git("log", "-1", "--format=%B")
    record = json.loads(_artifact(proj, "promote-to-staging", "promote-record.json").read_text())
    assert record["outcome"] == "released" and record["app"] == "myapp-staging"
    dotenv = read_dotenv(_artifact(proj, "promote-to-staging", "promote.env").read_text())
    assert dotenv["NEW_TAG"] == "v2" and dotenv["PREVIOUS_TAG"] == "v1"

    run = gcl(proj, "promote-to-prod")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert _image(env, "myapp-prod") == "ikubernetes/myapp:v2"
    assert "Promoted-From: staging@" in env.git("log", "-1", "--format=%B")
    for secret in (env.sb.token, env.sb.git_token):
        assert secret not in out
