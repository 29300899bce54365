"""lint: a clean scaffold passes; each check finds what it should, one line naming file, object
and problem; exit codes 0/1/2; the manual-gate warning; shipped schemas match the CRDs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import DATA
from regen_schemas import OUT, generate

from gitops_release.cli import main
from gitops_release.lint.check import lint_texts
from gitops_release.scaffold.spec import AppSpec
from gitops_release.scaffold.write import render

SPEC = AppSpec(
    app="myapp",
    image="ikubernetes/myapp:v1",
    prod_host="prod.myapp.com",
    preview_host="test.myapp.com",
    repo_url="https://git.example.com/devops/argo-demo.git",
    target_revision="main",
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A scaffolded app: tmp/myapp/*.yaml and tmp/argocd/myapp.yaml."""
    for rel, text in render(SPEC, kustomize=True).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path / "myapp"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_a_scaffolded_app_is_clean(capsys: pytest.CaptureFixture[str], app_dir: Path) -> None:
    code, out, err = run(capsys, "lint", str(app_dir), str(app_dir.parent / "argocd/myapp.yaml"))
    assert (code, err) == (0, "")
    assert out.startswith("ok: ")


def test_the_guides_own_manifests_are_clean(tmp_path: Path) -> None:
    blocks = [
        (DATA / "guide" / name).read_text(encoding="utf-8")
        for name in ("rollout.yaml", "service.yaml", "ingress.yaml")
    ]
    files = {f"guide/{i}.yaml": block for i, block in enumerate(blocks) if "kind:" in block}
    assert len(files) == 3  # rollout, service, ingress
    findings = lint_texts(files)
    # the guide routes to bluegreen-active/-preview but names the Rollout's Services the same way
    assert [f.line() for f in findings] == []


CASES = [
    (
        "service.yaml",
        "name: myapp-preview",
        "name: myapp-staging",
        "myapp/rollout.yaml: Rollout/myapp: previewService 'myapp-preview' is not a Service",
    ),
    (
        "service.yaml",
        "  selector:\n    app: myapp # the pod labels of the Rollout\n  ports:\n    - name: http\n      port: 80 # the port the prod",
        "  selector:\n    app: my-app\n  ports:\n    - name: http\n      port: 80 # the port the prod",
        "myapp/service.yaml: Service/myapp-active: selector app=my-app does not match the pod labels app=myapp of Rollout/myapp",
    ),
    (
        "service.yaml",
        "targetPort: 80 # the container port in rollout.yaml\n      protocol: TCP\n---",
        "targetPort: 8080\n      protocol: TCP\n---",
        "myapp/service.yaml: Service/myapp-active: targetPort 8080 is not a container port of Rollout/myapp (ports: 80)",
    ),
    (
        "service.yaml",
        "targetPort: 80 # the container port in rollout.yaml\n      protocol: TCP\n---",
        "targetPort: web\n      protocol: TCP\n---",
        "myapp/service.yaml: Service/myapp-active: targetPort 'web' is not a container port of Rollout/myapp",
    ),
    (
        "ingress.yaml",
        "- name: myapp-preview",
        "- name: myapp-test",
        "myapp/ingress.yaml: IngressRoute/myapp-test: service 'myapp-test' is not a Service",
    ),
    (
        "ingress.yaml",
        "port: 80 # that Service's port\n---",
        "port: 8080\n---",
        "myapp/ingress.yaml: IngressRoute/myapp-prod: port 8080 is not a port of Service myapp-active (80)",
    ),
    (
        "ingress.yaml",
        "test.myapp.com",
        "prod.myapp.com",
        "myapp/ingress.yaml: IngressRoute/myapp-test: host prod.myapp.com is also routed by IngressRoute/myapp-prod",
    ),
    (
        "rollout.yaml",
        "activeService:",
        "activeServise:",
        "myapp/rollout.yaml: Rollout/myapp: schema: spec.strategy.blueGreen: Additional properties are not allowed ('activeServise' was unexpected)",
    ),
    (
        "rollout.yaml",
        "replicas: 2",
        "replicas: two",
        "myapp/rollout.yaml: Rollout/myapp: schema: spec.replicas: 'two' is not of type 'integer'",
    ),
    (
        "rollout.yaml",
        "    matchLabels:\n      app: myapp",
        "    matchLabels:\n      app: other",
        "myapp/rollout.yaml: Rollout/myapp: spec.selector.matchLabels app=other do not match the pod labels app=myapp",
    ),
    (
        "ingress.yaml",
        "kind: Rule",
        "kind: Rules",
        "myapp/ingress.yaml: IngressRoute/myapp-prod: schema: spec.routes[0].kind: 'Rules' is not one of ['Rule']",
    ),
    (
        "service.yaml",
        "type: ClusterIP",
        "typ: ClusterIP",
        "myapp/service.yaml: Service/myapp-active: schema: spec: Additional properties are not allowed ('typ' was unexpected)",
    ),
    (
        "rollout.yaml",
        "kind: Rollout\n",
        "kind: Rollout\n  bad: [\n",
        "myapp/rollout.yaml: YAML: ",
    ),
    (
        "service.yaml",
        "  type: ClusterIP\n",
        "  type: ClusterIP\n  type: NodePort\n",
        "myapp/service.yaml: YAML: ",
    ),
    (
        "kustomization.yaml",
        "  - ingress.yaml",
        "  - ingres.yaml",
        "myapp/kustomization.yaml: Kustomization: resource ingres.yaml does not exist",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), CASES)
def test_each_check_reports_one_line(
    capsys: pytest.CaptureFixture[str],
    app_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    file: str,
    old: str,
    new: str,
    expected: str,
) -> None:
    edit(app_dir / file, old, new)
    monkeypatch.chdir(app_dir.parent)
    code, out, err = run(capsys, "lint", "myapp")
    assert code == 1, out
    assert any(line.startswith(expected) for line in out.splitlines()), out
    assert "gitops-release: error: lint:" in err


def test_the_application_is_checked_against_its_crd(
    capsys: pytest.CaptureFixture[str], app_dir: Path
) -> None:
    application = app_dir.parent / "argocd/myapp.yaml"
    edit(application, "selfHeal: false", "selfHeal: nope")
    code, out, _ = run(capsys, "lint", str(application))
    assert code == 1
    assert (
        "Application/myapp: schema: spec.syncPolicy.automated.selfHeal: 'nope' is not of type 'boolean'"
        in out
    )


def test_auto_promotion_warns_when_a_manual_gate_is_asked_for(
    capsys: pytest.CaptureFixture[str], app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(app_dir / "rollout.yaml", "autoPromotionEnabled: false", "autoPromotionEnabled: true")
    code, out, _ = run(capsys, "lint", str(app_dir))
    assert code == 0
    assert "Rollout/myapp: warning: autoPromotionEnabled is true" in out
    code, _, err = run(capsys, "lint", str(app_dir), "--strict")
    assert code == 1 and "1 finding(s)" in err
    code, out, _ = run(capsys, "lint", str(app_dir), "--no-manual-gate")
    assert (code, "warning" in out) == (0, False)
    monkeypatch.setenv("GITOPS_RELEASE_MANUAL_GATE", "false")
    code, out, _ = run(capsys, "lint", str(app_dir))
    assert (code, "warning" in out) == (0, False)
    code, out, _ = run(capsys, "lint", str(app_dir), "--manual-gate")
    assert "warning" in out


def test_a_missing_auto_promotion_field_counts_as_true(app_dir: Path) -> None:
    files = {str(p): p.read_text() for p in app_dir.glob("*.yaml")}
    rollout = str(app_dir / "rollout.yaml")
    files[rollout] = re.sub(r"\n +autoPromotionEnabled: false[^\n]*", "", files[rollout])
    (finding,) = lint_texts(files)
    assert finding.severity == "warning"
    assert "autoPromotionEnabled is not set (default true)" in finding.problem


def test_json_output_lists_the_findings(capsys: pytest.CaptureFixture[str], app_dir: Path) -> None:
    edit(app_dir / "service.yaml", "name: myapp-active", "name: myapp-live")
    code, out, _ = run(capsys, "lint", str(app_dir), "-o", "json")
    assert code == 1
    payload = json.loads(out)
    assert payload["ok"] is False
    assert payload["findings"][0]["object"] == "Rollout/myapp"
    assert payload["findings"][0]["severity"] == "error"


def test_a_missing_path_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "lint", str(tmp_path / "nope"))
    assert code == 2 and "no such file or directory" in err
    code, _, err = run(capsys, "lint", str(tmp_path))
    assert code == 2 and "no .yaml or .yml files" in err


def test_shipped_schemas_are_the_crds_translated() -> None:
    specs = DATA / "specs"
    for name, text in generate(specs).items():
        assert (OUT / name).read_text() == text, f"rerun tests/regen_schemas.py ({name})"
    for licence in ("Apache-2.0.txt", "traefik-MIT.md"):
        assert (OUT / "LICENSES" / licence).read_bytes() == (
            specs / "LICENSES" / licence
        ).read_bytes()


def test_int_or_string_fields_take_both() -> None:
    from gitops_release.schemas import validate as schemas

    route = {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "IngressRoute",
        "metadata": {"name": "r"},
        "spec": {"routes": [{"match": "Host(`a`)", "services": [{"name": "s", "port": "http"}]}]},
    }
    assert schemas.problems(route) == []
    route["spec"]["routes"][0]["services"][0]["port"] = 80  # type: ignore[index]
    assert schemas.problems(route) == []
    route["spec"]["routes"][0]["services"][0]["port"] = 1.5  # type: ignore[index]
    assert schemas.problems(route) != []


def test_null_is_absent_as_on_the_api_server(app_dir: Path) -> None:
    files = {str(p): p.read_text() for p in app_dir.glob("*.yaml")}
    service = str(app_dir / "service.yaml")
    files[service] = files[service].replace(
        "  type: ClusterIP", "  type: ClusterIP\n  clusterIP:", 1
    )
    rollout = str(app_dir / "rollout.yaml")
    files[rollout] = re.sub(r"activeService: \S+", "activeService:", files[rollout])
    lines = [f.line() for f in lint_texts(files)]
    assert not any("Service/myapp-active: schema" in line for line in lines), lines
    assert any("'activeService' is a required property" in line for line in lines), lines


def test_rollout_images_and_managed_selectors(app_dir: Path) -> None:
    files = {str(p): p.read_text() for p in app_dir.glob("*.yaml")}
    rollout, service = str(app_dir / "rollout.yaml"), str(app_dir / "service.yaml")
    files[rollout] = files[rollout].replace("ikubernetes/myapp:v1", "ikubernetes/myapp")
    files[service] = files[service].replace(
        "    app: myapp # the pod labels of the Rollout\n  ports:\n    - name: http\n      port: 80 # the port the prod",
        "    app: myapp\n    rollouts-pod-template-hash: 5d8f7\n  ports:\n    - name: http\n      port: 80 # the port the prod",
    )
    lines = [f.line() for f in lint_texts(files)]
    assert lines == [
        f"{rollout}: Rollout/myapp: warning: image ikubernetes/myapp has no tag: every sync may "
        "pull another version, and a release has no tag to change",
        f"{service}: Service/myapp-active: selector pins rollouts-pod-template-hash: Argo Rollouts "
        "sets it live; in Git it makes Argo CD and the controller fight (remove it)",
    ]
    files[rollout] = files[rollout].replace("ikubernetes/myapp", "Ikubernetes/My_App:v1")
    assert any(
        "Rollout/myapp: image 'Ikubernetes/My_App:v1': invalid" in f.line()
        for f in lint_texts(files)
    )


def test_the_manual_gate_can_be_turned_off_in_gitops_release_toml(
    capsys: pytest.CaptureFixture[str], app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(app_dir / "rollout.yaml", "autoPromotionEnabled: false", "autoPromotionEnabled: true")
    (app_dir.parent / "gitops-release.toml").write_text("manual_gate = false\n")
    monkeypatch.chdir(app_dir.parent)
    code, out, _ = run(capsys, "lint", "myapp", "--strict")
    assert (code, out) == (0, "ok: myapp\n")
    code, out, _ = run(capsys, "lint", "myapp", "--strict", "--manual-gate")
    assert code == 1 and "warning: autoPromotionEnabled is true" in out


def test_a_workload_ref_rollout_is_not_held_to_a_template(app_dir: Path) -> None:
    files = {str(p): p.read_text() for p in app_dir.glob("*.yaml")}
    rollout = str(app_dir / "rollout.yaml")
    start = files[rollout].index("  template: #")
    end = files[rollout].index("  strategy:")
    files[rollout] = (
        files[rollout][:start]
        + "  workloadRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: myapp\n"
        + files[rollout][end:]
    )
    assert [f.line() for f in lint_texts(files)] == []


def test_a_rollout_without_blue_green_is_a_finding(
    capsys: pytest.CaptureFixture[str], app_dir: Path
) -> None:
    """A canary Rollout is valid for Argo Rollouts, but not for a blue-green release: say so
    instead of passing it (found by the reliability suite's bad-input table)."""
    rollout = app_dir / "rollout.yaml"
    text = rollout.read_text()
    start = text.index("  strategy:\n")
    rollout.write_text(
        text[:start] + "  strategy:\n    canary:\n      steps:\n        - setWeight: 20\n"
    )
    code, out_text, err = run(capsys, "lint", str(app_dir))
    assert code == 1
    assert f"{rollout}: Rollout/myapp: spec.strategy has no blueGreen (canary)" in out_text + err


def test_a_container_port_written_as_a_string_is_one_finding(
    capsys: pytest.CaptureFixture[str], app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14, item 13: ``containerPort: "80"`` also gave a second, confusing finding
    (``targetPort 80 is not a container port ... (ports: 80)``). One finding, the real one."""
    rollout = app_dir / "rollout.yaml"
    text = rollout.read_text()
    port = re.search(r"containerPort: (\d+)", text)
    assert port
    edit(rollout, port[0], f'containerPort: "{port[1]}"')
    monkeypatch.chdir(app_dir.parent)
    code, out, _ = run(capsys, "lint", "myapp")
    assert code == 1
    lines = [line for line in out.splitlines() if line.startswith("myapp/")]
    assert len(lines) == 1, out
    assert "containerPort" in lines[0] and "'80'" in lines[0] and "integer" in lines[0], out


ANALYSIS_SPEC = AppSpec(
    app="myapp",
    image="ikubernetes/myapp:v1",
    prod_host="prod.myapp.com",
    preview_host="test.myapp.com",
    repo_url="https://git.example.com/devops/argo-demo.git",
    target_revision="main",
    analysis="prometheus",
    analysis_query='sum(rate(http_requests_total{service="{{args.service-name}}"}[1m]))',
    success_condition="result[0] < 0.01",
)


@pytest.fixture
def gated_dir(tmp_path: Path) -> Path:
    """A scaffolded app with an analysis gate (analysis.yaml and prePromotionAnalysis)."""
    for rel, text in render(ANALYSIS_SPEC).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path / "myapp"


ANALYSIS_CASES = [
    (
        "rollout.yaml",
        "templateName: myapp-analysis",
        "templateName: error-rate",
        "myapp/rollout.yaml: Rollout/myapp: spec.strategy.blueGreen.prePromotionAnalysis.templates[0]: "
        "AnalysisTemplate 'error-rate' is not in these files",
    ),
    (
        "rollout.yaml",
        "- name: service-name",
        "- name: service",
        "myapp/rollout.yaml: Rollout/myapp: spec.strategy.blueGreen.prePromotionAnalysis.args: "
        "arg 'service-name' of AnalysisTemplate/myapp-analysis has no value and the Rollout does not give it",
    ),
    (
        "analysis.yaml",
        'successCondition: "result[0] < 0.01"',
        'successCondition: "result[0] <<< 0.01"',
        "myapp/analysis.yaml: AnalysisTemplate/myapp-analysis: spec.metrics[0].successCondition: "
        'condition "result[0] <<< 0.01": ',
    ),
    (
        "analysis.yaml",
        "successCondition:",
        "successCondtion:",
        "myapp/analysis.yaml: AnalysisTemplate/myapp-analysis: schema: spec.metrics[0]: "
        "Additional properties are not allowed ('successCondtion' was unexpected)",
    ),
    (
        "analysis.yaml",
        "{{args.service-name}}",
        "{{args.service}}",
        "myapp/analysis.yaml: AnalysisTemplate/myapp-analysis: spec.metrics[0]: "
        "{{args.service}} is not declared in spec.args",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "expected"), ANALYSIS_CASES)
def test_analysis_gates_are_checked(
    capsys: pytest.CaptureFixture[str],
    gated_dir: Path,
    file: str,
    old: str,
    new: str,
    expected: str,
) -> None:
    code, out, _ = run(capsys, "lint", str(gated_dir))
    assert code == 0, out  # clean as scaffolded
    edit(gated_dir / file, old, new)
    code, out, _ = run(capsys, "lint", str(gated_dir))
    assert code == 1, out
    assert any(line.endswith(expected) or expected in line for line in out.splitlines()), out


def test_a_cluster_template_outside_the_files_is_a_warning(
    capsys: pytest.CaptureFixture[str], gated_dir: Path
) -> None:
    edit(
        gated_dir / "rollout.yaml",
        "- templateName: myapp-analysis",
        "- templateName: shared\n            clusterScope: true",
    )
    (gated_dir / "analysis.yaml").unlink()
    code, out, _ = run(capsys, "lint", str(gated_dir))
    assert code == 0, out
    assert (
        "warning: spec.strategy.blueGreen.prePromotionAnalysis.templates[0]: ClusterAnalysisTemplate 'shared' is not in these files"
        in out
    )
