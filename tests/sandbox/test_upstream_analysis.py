"""The blue-green scenarios of argo-rollouts ``test/e2e/analysis_test.go`` (at 9f8d111d8), and the
analysis half of ``functional_test.go`` ``TestBlueGreenPromoteFull``, ported to the sandbox: same
objects, same steps, same expectations, driven through Git, Argo CD, the Rollouts dashboard and
the control API's clock (``scenario.py``).

Upstream's ``sleep-job`` template runs a Kubernetes Job (``sleep {{args.duration}} && exit
{{args.exit-code}}``); the sandbox has no Jobs, so the stand-in is the same template with a web
metric: it waits ``{{args.duration}}`` seconds (``initialDelay``) and then asks a real HTTP server
on 127.0.0.1 for the exit code, succeeding on 0. Same args, same outcome, same timing in
controller seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scenario import Scenario, stepped_sandbox

from gitops_release.sandbox.server import Sandbox
from tests.fake_http import FakeServer


@pytest.fixture
def sb(tmp_path: Path) -> Iterator[Sandbox]:
    with stepped_sandbox(tmp_path) as sandbox:
        yield sandbox


@pytest.fixture
def job() -> Iterator[FakeServer]:
    """The sleep-job's exit code, served over real HTTP."""
    fake = FakeServer().start()
    for code in (0, 1, 2):
        fake.routes[("GET", f"/exit/{code}")] = lambda r, code=code: (200, {"exitCode": code})
    yield fake
    fake.stop()


def sleep_job(url: str) -> str:
    return f"""
kind: AnalysisTemplate
apiVersion: argoproj.io/v1alpha1
metadata: {{name: sleep-job}}
spec:
  args:
  - {{name: duration, value: "0"}}
  - {{name: exit-code, value: "0"}}
  - {{name: count, value: "1"}}
  metrics:
  - name: sleep-job
    count: "{{{{args.count}}}}"
    initialDelay: "{{{{args.duration}}}}s"
    successCondition: result == 0
    failureCondition: result == 1
    provider:
      web:
        url: "{url}/exit/{{{{args.exit-code}}}}"
        jsonPath: "{{$.exitCode}}"
"""


def rollout(name: str, blue_green: str, replicas: int = 1) -> str:
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}-active}}
spec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}-preview}}
spec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  strategy:
    blueGreen:
      activeService: {name}-active
      previewService: {name}-preview
{blue_green}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: {name}
        image: nginx:1.19-alpine
        resources:
          requests: {{memory: 16Mi, cpu: 5m}}
"""


def analysis(which: str, exit_code: str = "0", duration: str = "5") -> str:
    return f"""      {which}:
        templates:
        - templateName: sleep-job
        args:
        - {{name: exit-code, value: "{exit_code}"}}
        - {{name: duration, value: "{duration}"}}
"""


def cpu(value: str) -> dict[str, Any]:
    container = {"name": "bg-analysis", "resources": {"requests": {"cpu": value}}}
    return {"spec": {"template": {"spec": {"containers": [container]}}}}


def runs(s: Scenario) -> list[dict[str, Any]]:
    return list(s.info().get("analysisRuns", []))


def tree_runs(s: Scenario) -> list[dict[str, Any]]:
    tree = s.api.get(f"/api/v1/applications/{s.app}/resource-tree")
    return [n for n in tree["nodes"] if n["kind"] == "AnalysisRun"]


def revisions(s: Scenario) -> tuple[int | None, int | None, int | None]:
    """(stable, active, preview) revisions."""
    stable = s.rollout()["status"].get("stableRS")
    return (
        s.revision_of(stable) if stable else None,
        s.selector_revision("active"),
        s.selector_revision("preview"),
    )


def test_blue_green_analysis(sb: Sandbox, tmp_path: Path, job: FakeServer) -> None:
    """analysis_test.go TestBlueGreenAnalysis: pre-promotion analysis runs while paused (no
    promotion before the run is Successful), post-promotion analysis after the switch, and a
    rollback to the stable template skips both."""
    blue_green = (
        analysis("prePromotionAnalysis")
        + analysis("postPromotionAnalysis")
        + "      autoPromotionEnabled: false\n"
    )
    s = Scenario(sb, tmp_path, sleep_job(job.url) + "---" + rollout("bg-analysis", blue_green))
    s.healthy_rollout()
    assert runs(s) == []
    s.patch_spec(cpu("4m"))
    s.wait_for_status("Paused")
    assert len(runs(s)) == 1
    assert revisions(s)[1:] == (1, 2)
    pre = runs(s)[0]
    assert pre["objectMeta"]["name"].endswith("-2-pre")
    # the run lives in Argo CD's tree under the Rollout, and as a live object
    (node,) = tree_runs(s)
    assert node["parentRefs"][0]["kind"] == "Rollout"
    live = s.live("AnalysisRun", pre["objectMeta"]["name"], "argoproj.io", "v1alpha1")
    assert live["metadata"]["labels"]["rollout-type"] == "PrePromotion"
    s.wait_for(lambda: runs(s)[0]["status"] == "Successful", "pre-promotion Successful", 30)
    assert s.info()["status"] == "Paused"  # autoPromotionEnabled false: a person promotes
    s.promote()
    s.wait_for(lambda: revisions(s)[1] == 2, "active revision 2", 30)
    s.advance(2)
    assert len(runs(s)) == 2
    assert s.replica_counts() == (1, 2, 1, 1, 1)
    assert s.info()["status"] == "Progressing"
    assert s.info()["message"] == "waiting for analysis to complete"
    s.wait_for_status("Healthy", 30)
    assert len(runs(s)) == 2
    assert {r["status"] for r in runs(s)} == {"Successful"}
    assert revisions(s) == (2, 2, 2)
    s.patch_spec(cpu("5m"))  # back to the original template: no pause, no analysis
    s.advance(2)
    assert s.info()["status"] == "Healthy"
    assert len(runs(s)) == 2
    assert revisions(s) == (3, 3, 3)


def test_blue_green_pre_promotion_fail(sb: Sandbox, tmp_path: Path, job: FakeServer) -> None:
    """analysis_test.go TestBlueGreenPrePromotionFail: a failed pre-promotion run aborts the
    update (Degraded, the run's message in RolloutAborted), active and stable stay on revision
    1; fixing the args and retrying starts a new run that promotes."""
    blue_green = "      abortScaleDownDelaySeconds: 0\n      previewReplicaCount: 1\n" + analysis(
        "prePromotionAnalysis", exit_code="1"
    )
    s = Scenario(sb, tmp_path, sleep_job(job.url) + "---" + rollout("pre-fail", blue_green, 2))
    s.healthy_rollout()
    assert runs(s) == []
    s.update_spec()
    s.wait_for_status("Degraded", 60)
    assert len(runs(s)) == 1
    assert revisions(s) == (1, 1, 2)
    message = s.info()["message"]
    assert message.startswith(
        "RolloutAborted: Rollout aborted update to revision 2: "
        "Blue/green pre-promotion analysis phase error/failed: "
        'Metric "sleep-job" assessed Failed due to failed (1) > failureLimit (0)'
    ), message
    s.patch_spec(
        {
            "spec": {
                "strategy": {
                    "blueGreen": {
                        "prePromotionAnalysis": {
                            "templates": [{"templateName": "sleep-job"}],
                            "args": [
                                {"name": "exit-code", "value": "0"},
                                {"name": "duration", "value": "5"},
                            ],
                        }
                    }
                }
            }
        }
    )
    s.retry()
    s.wait_for_status("Healthy", 60)
    assert len(runs(s)) == 2
    assert revisions(s) == (2, 2, 2)


def test_blue_green_post_promotion_fail(sb: Sandbox, tmp_path: Path, job: FakeServer) -> None:
    """analysis_test.go TestBlueGreenPostPromotionFail: after the switch a failed post-promotion
    run aborts and the active Service goes back to the stable revision."""
    blue_green = "      autoPromotionEnabled: false\n" + analysis(
        "postPromotionAnalysis", exit_code="1"
    )
    s = Scenario(sb, tmp_path, sleep_job(job.url) + "---" + rollout("post-fail", blue_green))
    s.healthy_rollout()
    assert runs(s) == []
    s.update_spec()
    s.wait_for_status("Paused", 60)
    assert revisions(s) == (1, 1, 2)
    s.promote()
    s.advance(2)
    assert revisions(s) == (1, 2, 2)
    s.wait_for_status("Degraded", 60)
    assert len(runs(s)) == 1
    assert runs(s)[0]["status"] == "Failed"
    # the pass that aborts reads the status it started from; the next switches the Service back
    # (upstream's controller requeues on its own status write)
    s.advance(1)
    assert revisions(s) == (1, 1, 2)
    assert "Blue/green post-promotion analysis phase error/failed" in s.info()["message"]


def test_missing_template_is_an_invalid_spec(sb: Sandbox, tmp_path: Path) -> None:
    """A Rollout naming an AnalysisTemplate that does not exist is InvalidSpec (Degraded), as
    the controller's getRolloutValidationErrors words it; adding the template heals it."""
    blue_green = analysis("prePromotionAnalysis")
    s = Scenario(sb, tmp_path, rollout("no-template", blue_green))
    s.apply_manifests()
    s.wait_for_status("Degraded", 30)
    assert s.info()["message"] == (
        'InvalidSpec: The Rollout "no-template" is invalid: '
        "spec.strategy.blueGreen.prePromotionAnalysis.templates: "
        "Invalid value: \"sleep-job\": AnalysisTemplate 'sleep-job' not found"
    )


def test_inconclusive_pre_promotion_pauses(sb: Sandbox, tmp_path: Path, job: FakeServer) -> None:
    """rollout/bluegreen_test.go TestBlueGreenHandlePause/NoActionsAfterPausedOnInconclusiveRun as
    a scenario: an Inconclusive pre-promotion run pauses the Rollout (InconclusiveAnalysis), the
    active Service stays on the stable revision and no new run starts while it is paused."""
    blue_green = analysis("prePromotionAnalysis", exit_code="2")
    s = Scenario(sb, tmp_path, sleep_job(job.url) + "---" + rollout("inconclusive", blue_green))
    s.healthy_rollout()
    s.update_spec()
    s.wait_for(lambda: runs(s) and runs(s)[0]["status"] == "Inconclusive", "Inconclusive", 60)
    s.wait_for_status("Paused", 10)
    assert s.info()["message"] == "InconclusiveAnalysis"
    s.advance(10)
    assert len(runs(s)) == 1
    assert revisions(s) == (1, 1, 2)


def scale_down_set(s: Scenario, revision: int) -> bool:
    """ExpectRevisionScaleDown(rev, true): the ReplicaSet carries a scale-down deadline."""
    name = s.replica_set(revision)["objectMeta"]["name"]
    annotations = s.live("ReplicaSet", name, "apps")["metadata"].get("annotations") or {}
    return "argo-rollouts.argoproj.io/scale-down-deadline" in annotations


def test_blue_green_abort_and_update(sb: Sandbox, tmp_path: Path, job: FakeServer) -> None:
    """analysis_test.go TestBlueGreenAbortAndUpdate: revision 2 fails its post-promotion
    analysis (Degraded, active back on 1); revision 3 (a template annotation, the analysis
    args removed, autoPromotionEnabled false) pauses on the preview with revision 2 marked for
    scale-down, is promoted and becomes Healthy; two runs in all."""
    blue_green = '      postPromotionAnalysis:\n        templates:\n        - templateName: sleep-job\n        args:\n        - {name: exit-code, value: "1"}\n'
    s = Scenario(sb, tmp_path, sleep_job(job.url) + "---" + rollout("abort-update", blue_green))
    s.healthy_rollout()
    assert runs(s) == []
    s.update_spec()
    s.wait_for_status("Degraded", 60)
    assert len(runs(s)) == 1
    s.advance(1)  # the pass after the abort switches the active Service back
    assert revisions(s)[1:] == (1, 2)
    s.patch_spec(
        {
            "spec": {
                "template": {"metadata": {"annotations": {"foo": "bar"}}},
                "strategy": {
                    "blueGreen": {
                        "autoPromotionEnabled": False,
                        "postPromotionAnalysis": {
                            "templates": [{"templateName": "sleep-job"}],
                            "args": None,
                        },
                    }
                },
            }
        }
    )
    s.wait_for_status("Paused", 60)
    s.advance(2)
    assert s.revision_pod_count(1) == 1 and s.revision_pod_count(3) == 1
    assert scale_down_set(s, 2)
    assert revisions(s)[1:] == (1, 3)
    s.promote()
    s.wait_for_status("Healthy", 60)
    s.advance(2)
    assert s.revision_pod_count(1) == 1 and s.revision_pod_count(3) == 1
    assert scale_down_set(s, 1) and scale_down_set(s, 2)
    assert revisions(s)[1:] == (3, 3)
    assert len(runs(s)) == 2


def test_blue_green_kitchen_sink(sb: Sandbox, tmp_path: Path, job: FakeServer) -> None:
    """analysis_test.go TestBlueGreenKitchenSink: previewReplicaCount, autoPromotionSeconds,
    scaleDownDelaySeconds, a 10 s pre-promotion run and a failing 10 s post-promotion run: no
    promotion before both the run and autoPromotionSeconds allow it, then the switch, the post
    run, and Degraded back on revision 1 with both revisions' pods kept."""
    blue_green = (
        "      previewReplicaCount: 1\n      autoPromotionSeconds: 10\n"
        "      scaleDownDelaySeconds: 5\n"
        + analysis("prePromotionAnalysis", duration="10")
        + analysis("postPromotionAnalysis", exit_code="1", duration="10")
    )
    s = Scenario(sb, tmp_path, sleep_job(job.url) + "---" + rollout("kitchensink", blue_green, 2))
    s.healthy_rollout()
    s.update_spec()
    s.wait_for_status("Paused", 60)
    assert revisions(s) == (1, 1, 2)
    assert (s.revision_pod_count(1), s.revision_pod_count(2)) == (2, 1)
    assert s.replica_counts() == (2, 3, 1, 2, 2)
    assert len(runs(s)) == 1
    s.advance(5)  # not promoted too early
    assert revisions(s) == (1, 1, 2)
    assert (s.revision_pod_count(1), s.revision_pod_count(2)) == (2, 1)
    assert s.replica_counts() == (2, 3, 1, 2, 2)
    s.wait_for(lambda: revisions(s)[1] == 2, "active revision 2 (auto-promoted)", 60)
    assert (s.revision_pod_count(2), s.revision_pod_count(1)) == (2, 2)
    assert s.replica_counts() == (2, 4, 2, 2, 2)
    s.advance(1)
    assert len(runs(s)) == 2
    s.wait_for_status("Degraded", 60)
    s.advance(1)  # the pass after the abort switches the active Service back
    assert revisions(s) == (1, 1, 2)
    assert (s.revision_pod_count(2), s.revision_pod_count(1)) == (2, 2)
    assert s.replica_counts() == (2, 4, 2, 2, 2)


PROMOTE_FULL = """
apiVersion: v1
kind: Service
metadata: {name: bluegreen-promote-full-active}
spec: {selector: {app: bluegreen-promote-full}, ports: [{port: 80}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: bluegreen-promote-full}
spec:
  replicas: 3
  strategy:
    blueGreen:
      activeService: bluegreen-promote-full-active
      autoPromotionEnabled: false
      prePromotionAnalysis:
        templates:
        - templateName: sleep-job
      postPromotionAnalysis:
        templates:
        - templateName: sleep-job
  selector:
    matchLabels: {app: bluegreen-promote-full}
  template:
    metadata:
      labels: {app: bluegreen-promote-full}
    spec:
      containers:
      - name: bluegreen-promote-full
        image: nginx:1.19-alpine
        resources:
          requests: {memory: 16Mi, cpu: 1m}
"""


def test_blue_green_promote_full(sb: Sandbox, tmp_path: Path, job: FakeServer) -> None:
    """functional_test.go TestBlueGreenPromoteFull: a full promotion a second after the update
    skips the pause and both analyses: Healthy on revision 2 with no AnalysisRun at all."""
    s = Scenario(sb, tmp_path, sleep_job(job.url) + "---" + PROMOTE_FULL)
    s.healthy_rollout()
    s.update_spec()
    s.advance(1)
    s.promote(full=True)
    s.wait_for_status("Healthy", 60)
    assert runs(s) == []
    assert s.selector_revision("active") == 2
    assert job.count() == 0  # no measurement was ever taken


def history(s: Scenario) -> list[tuple[int, str]]:
    """(revision, phase) of every AnalysisRun the Rollout still has, oldest first."""
    return sorted(
        (int(r["objectMeta"]["name"].rsplit("-", 2)[1]), r["status"])  # <ro>-<hash>-<rev>-pre
        for r in runs(s)
    )


def test_analysis_run_history_is_limited(sb: Sandbox, tmp_path: Path, job: FakeServer) -> None:
    """rollout/analysis.go reconcileAnalysisRuns + utils/analysis FilterAnalysisRunsToDelete:
    besides the current runs, a Rollout keeps the newest ``spec.analysis.successfulRunHistoryLimit``
    Successful runs (and as many unsuccessful ones as ``unsuccessfulRunHistoryLimit``, 5 and 5
    by default); older ones are deleted."""
    blue_green = analysis("prePromotionAnalysis", duration="0")
    manifest = rollout("history", blue_green).replace(
        "  strategy:\n", "  analysis: {successfulRunHistoryLimit: 1}\n  strategy:\n", 1
    )
    s = Scenario(sb, tmp_path, sleep_job(job.url) + "---" + manifest)
    s.healthy_rollout()
    for revision in (2, 3, 4):
        s.update_spec()
        s.wait_for(lambda r=revision: revisions(s) == (r, r, r), f"revision {revision}", 60)
        s.wait_for_status("Healthy", 60)
    s.advance(1)
    # revision 4's run is current; of the others only the newest Successful one (3) is kept
    assert history(s) == [(3, "Successful"), (4, "Successful")]


def test_analysis_runs_go_with_their_replica_set(
    sb: Sandbox, tmp_path: Path, job: FakeServer
) -> None:
    """FilterAnalysisRunsToDelete: a run whose ReplicaSet is gone (revisionHistoryLimit) is
    deleted whatever the limits."""
    blue_green = analysis("prePromotionAnalysis", duration="0")
    manifest = rollout("rs-gone", blue_green).replace(
        "  strategy:\n", "  revisionHistoryLimit: 1\n  strategy:\n", 1
    )
    s = Scenario(sb, tmp_path, sleep_job(job.url) + "---" + manifest)
    s.healthy_rollout()
    for revision in (2, 3, 4):
        s.update_spec()
        s.wait_for(lambda r=revision: revisions(s) == (r, r, r), f"revision {revision}", 60)
        s.wait_for_status("Healthy", 60)
    s.advance(60)  # past the scale-down delay: revision 2's ReplicaSet is deleted
    kept = {int(rs["revision"]) for rs in s.info()["replicaSets"]}
    assert 2 not in kept
    assert [rev for rev, _ in history(s)] == sorted(kept - {1})


def test_cluster_analysis_template(sb: Sandbox, tmp_path: Path, job: FakeServer) -> None:
    """A ``clusterScope: true`` reference reads a ClusterAnalysisTemplate (created from Git like
    any resource, no namespace): the pre-promotion run measures with it and the update
    promotes; a namespaced AnalysisTemplate of the same name is not what it reads."""
    cluster_template = (
        sleep_job(job.url)
        .replace("kind: AnalysisTemplate", "kind: ClusterAnalysisTemplate")
        .replace("name: sleep-job}", "name: cluster-sleep}")
    )
    decoy = sleep_job(job.url + "/decoy").replace("name: sleep-job}", "name: cluster-sleep}")
    blue_green = (
        "      prePromotionAnalysis:\n        templates:\n"
        "        - {templateName: cluster-sleep, clusterScope: true}\n"
    )
    manifests = cluster_template + "---" + decoy + "---" + rollout("cluster-tpl", blue_green)
    s = Scenario(sb, tmp_path, manifests)
    s.healthy_rollout()
    s.update_spec()
    s.wait_for(lambda: runs(s) and runs(s)[0]["status"] == "Successful", "run Successful", 60)
    s.wait_for_status("Healthy", 60)
    assert revisions(s) == (2, 2, 2)
    assert job.count(prefix="/exit/0") >= 1 and job.count(prefix="/decoy") == 0


def test_cluster_analysis_template_missing(sb: Sandbox, tmp_path: Path) -> None:
    """A ``clusterScope`` reference to a ClusterAnalysisTemplate that does not exist is
    InvalidSpec, worded with the kind."""
    blue_green = (
        "      prePromotionAnalysis:\n        templates:\n"
        "        - {templateName: nowhere, clusterScope: true}\n"
    )
    s = Scenario(sb, tmp_path, rollout("no-cluster-tpl", blue_green))
    s.apply_manifests()
    s.wait_for_status("Degraded", 30)
    assert s.info()["message"].endswith(
        "spec.strategy.blueGreen.prePromotionAnalysis.templates: "
        "Invalid value: \"nowhere\": ClusterAnalysisTemplate 'nowhere' not found"
    )


HASHES = """
kind: AnalysisTemplate
apiVersion: argoproj.io/v1alpha1
metadata: {{name: hashes}}
spec:
  args:
  - {{name: stable-hash}}
  - {{name: latest-hash}}
  metrics:
  - name: preview-answers
    count: 2
    interval: 5s
    successCondition: result == 0
    provider:
      web:
        url: "{url}/exit/0?stable={{{{args.stable-hash}}}}&latest={{{{args.latest-hash}}}}"
        jsonPath: "{{$.exitCode}}"
  - name: experimental
    count: 1
    successCondition: result == 0
    provider:
      web:
        url: "{url}/exit/1"
        jsonPath: "{{$.exitCode}}"
"""
HASH_GATE = """      {which}:
        templates:
        - templateName: hashes
        args:
        - name: stable-hash
          valueFrom: {{podTemplateHashValue: Stable}}
        - name: latest-hash
          valueFrom: {{podTemplateHashValue: Latest}}
        dryRun:
        - metricName: experimental
"""


def test_kitchen_sink_hash_args_and_dry_run(sb: Sandbox, tmp_path: Path, job: FakeServer) -> None:
    """TestBlueGreenKitchenSink's features beyond the sleep-job, as KitchenSink-like rollouts use
    them: pre- and post-promotion runs whose args come from ``valueFrom.podTemplateHashValue``
    (Stable: the revision being replaced, Latest: the new one) and a ``dryRun`` metric that
    fails without failing the run (its result marked dryRun)."""
    blue_green = HASH_GATE.format(which="prePromotionAnalysis") + HASH_GATE.format(
        which="postPromotionAnalysis"
    )
    s = Scenario(sb, tmp_path, HASHES.format(url=job.url) + "---" + rollout("sink", blue_green))
    s.healthy_rollout()
    stable = s.rollout()["status"]["stableRS"]
    s.update_spec()
    s.wait_for_status("Healthy", 120)
    latest = s.rollout()["status"]["stableRS"]
    assert latest != stable
    assert revisions(s) == (2, 2, 2)
    asked = {(r.query["stable"][0], r.query["latest"][0]) for r in job.requests if r.query}
    assert asked == {(stable, latest)}
    assert sorted(r["status"] for r in runs(s)) == ["Successful", "Successful"]
    for run in runs(s):
        live = s.live("AnalysisRun", run["objectMeta"]["name"], "argoproj.io", "v1alpha1")
        results = {m["name"]: m for m in live["status"]["metricResults"]}
        assert results["experimental"]["phase"] == "Failed"
        assert results["experimental"]["dryRun"] is True
        assert results["preview-answers"]["phase"] == "Successful"
        assert results["preview-answers"]["count"] == 2
