"""A blue-green Rollout's AnalysisRuns, as the Rollouts controller keeps them: ported from
argo-rollouts ``rollout/analysis.go`` (reconcileAnalysisRuns, the pre- and post-promotion runs,
setPauseOrAbortForBlueGreen, needsNewAnalysisRun, cancelAnalysisRuns, newAnalysisRunFromRollout)
and ``utils/analysis`` (NewAnalysisRunFromTemplates, BuildArgumentsForRolloutAnalysisRun,
MergeArgs, FilterCurrentRolloutAnalysisRuns, FilterAnalysisRunsToDelete with
``spec.analysis``'s history limits) at 9f8d111d8, in our own code.

A run is its wire form as a dict with times in controller seconds (see :mod:`.analysisspec`);
the Rollout owns its runs (``Rollout.analysis_runs``) as it owns its ReplicaSets, and the
analysis controller (:mod:`.analysis`) measures them before each Rollout pass.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gitops_release.sandbox.analysisspec import COMPLETED, ERROR, FAILED, INCONCLUSIVE, SUCCESSFUL
from gitops_release.sandbox.clock import Clock, rfc3339
from gitops_release.sandbox.kube import new_uid
from gitops_release.sandbox.replicaset import HASH_LABEL, REVISION

if TYPE_CHECKING:
    from gitops_release.sandbox.bluegreen import Pass
    from gitops_release.sandbox.rollout import Rollout

PRE, POST = "prePromotion", "postPromotion"
TYPE_LABEL = "rollout-type"
TYPE_VALUES = {PRE: "PrePromotion", POST: "PostPromotion"}
INFIX = {PRE: "pre", POST: "post"}
INCONCLUSIVE_PAUSE = "InconclusiveAnalysis"
HISTORY_LIMIT = 5  # DefaultAnalysisRun(Uns|S)uccessfulHistoryLimit
UNSUCCESSFUL = (FAILED, ERROR, INCONCLUSIVE)
ABORT_MESSAGES = {
    PRE: "Blue/green pre-promotion analysis phase error/failed",
    POST: "Blue/green post-promotion analysis phase error/failed",
}

TemplateLookup = Callable[[str, str, str], "dict[str, Any] | None"]  # kind, namespace, name


class InvalidAnalysis(ValueError):
    """A reference the controller's validation refuses (InvalidSpec), worded as upstream."""


def _phase(run: dict[str, Any] | None) -> str:
    return str(((run or {}).get("status") or {}).get("phase") or "")


def status_field(which: str) -> str:
    return f"{which}AnalysisRunStatus"


def current_runs(ro: Rollout, status: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """FilterCurrentRolloutAnalysisRuns: the runs the status names, by role."""
    blue_green = status.get("blueGreen") or {}
    out: dict[str, dict[str, Any] | None] = {}
    for which in (PRE, POST):
        name = (blue_green.get(status_field(which)) or {}).get("name")
        out[which] = ro.analysis_runs.get(name) if name else None
    return out


def run_object(run: dict[str, Any], clock: Clock, resource_version: str) -> dict[str, Any]:
    """An AnalysisRun as ``kubectl get -o json`` shows it: controller seconds as RFC 3339."""

    def at(value: Any) -> Any:
        return rfc3339(clock.at(value)) if isinstance(value, (int, float)) else value

    obj = copy.deepcopy(run)
    meta = obj["metadata"]
    meta["creationTimestamp"] = at(meta.pop("created"))
    meta["resourceVersion"] = resource_version
    status = obj.get("status") or {}
    for key in ("startedAt", "completedAt"):
        if key in status:
            status[key] = at(status[key])
    for result in status.get("metricResults") or []:
        for measurement in result.get("measurements") or []:
            for key in ("startedAt", "finishedAt", "resumeAt"):
                if measurement.get(key) is not None:
                    measurement[key] = at(measurement[key])
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", **obj}


# --- templates to a run ----------------------------------------------------------------------
def _templates(ro: Rollout, refs: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for ref in refs:
        name = str(ref.get("templateName") or "")
        kind = "ClusterAnalysisTemplate" if ref.get("clusterScope") else "AnalysisTemplate"
        template = ro.templates(kind, ro.namespace, name)
        if template is None:
            raise InvalidAnalysis(f"{path}: Invalid value: \"{name}\": {kind} '{name}' not found")
        found.append(template)
        inner = (template.get("spec") or {}).get("templates")
        if inner:
            found.extend(_templates(ro, inner, "spec.templates"))
    unique: list[dict[str, Any]] = []
    for template in found:  # FilterUniqueTemplates
        if template not in unique:
            unique.append(template)
    return unique


def build_args(args: list[dict[str, Any]], stable_hash: str, new_hash: str) -> list[dict[str, Any]]:
    """BuildArgumentsForRolloutAnalysisRun: podTemplateHashValue Latest / Stable resolved."""
    out = []
    for arg in args:
        value = arg.get("value")
        which = (arg.get("valueFrom") or {}).get("podTemplateHashValue")
        if which == "Latest":
            value = new_hash
        elif which == "Stable":
            value = stable_hash
        out.append({"name": arg["name"], "value": "" if value is None else str(value)})
    return out


def _flatten(templates: list[dict[str, Any]]) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    metrics: list[Any] = []
    args: list[dict[str, Any]] = []
    dry_run: list[Any] = []
    retention: list[Any] = []
    for template in templates:
        spec = template.get("spec") or {}
        metrics.extend(copy.deepcopy(spec.get("metrics") or []))
        dry_run.extend(copy.deepcopy(spec.get("dryRun") or []))
        retention.extend(copy.deepcopy(spec.get("measurementRetention") or []))
        for arg in spec.get("args") or []:
            prev = next((a for a in args if a["name"] == arg["name"]), None)
            if prev is None:
                args.append(copy.deepcopy(arg))
            elif prev.get("value") is not None and arg.get("value") is not None:
                if str(prev["value"]) != str(arg["value"]):
                    raise InvalidAnalysis(
                        f"Argument `{arg['name']}` specified multiple times with different "
                        f"values: '{prev['value']}', '{arg['value']}'"
                    )
            elif prev.get("value") is None:
                args[args.index(prev)] = copy.deepcopy(arg)
    seen: set[str] = set()
    for metric in metrics:
        if metric.get("name") in seen:
            raise InvalidAnalysis(f"two metrics have the same name '{metric.get('name')}'")
        seen.add(str(metric.get("name")))
    return metrics, args, dry_run, retention


def new_run_spec(
    ro: Rollout, analysis: dict[str, Any], args: list[dict[str, Any]], path: str
) -> dict[str, Any]:
    """NewAnalysisRunFromTemplates: templates flattened, the Rollout's args merged in
    (MergeArgs: only args a template declares), each arg resolved (ResolveArgs)."""
    templates = _templates(ro, analysis.get("templates") or [], f"{path}.templates")
    metrics, template_args, dry_run, retention = _flatten(templates)
    merged = copy.deepcopy(template_args)
    for arg in args:
        for target in merged:
            if target["name"] == arg["name"]:
                target["value"] = arg["value"]
                target.pop("valueFrom", None)
    for arg in merged:
        if arg.get("value") is None and arg.get("valueFrom") is None:
            names = [str(r.get("templateName")) for r in analysis.get("templates") or []]
            raise InvalidAnalysis(
                f'{path}: Invalid value: "templateNames: {names}": args.{arg["name"]} was not resolved'
            )
    spec: dict[str, Any] = {"metrics": metrics, "args": merged}
    if dry_run or analysis.get("dryRun"):
        spec["dryRun"] = list(analysis.get("dryRun") or []) + dry_run
    if retention or analysis.get("measurementRetention"):
        spec["measurementRetention"] = list(analysis.get("measurementRetention") or []) + retention
    return spec


def validation_error(ro: Rollout) -> str:
    """The referenced-resource part of getRolloutValidationErrors for blue-green analysis: a
    template that does not exist or an arg nobody supplies makes the Rollout InvalidSpec."""
    bg = (ro.spec.get("strategy") or {}).get("blueGreen") or {}
    for which in (PRE, POST):
        analysis = bg.get(f"{which}Analysis")
        if not analysis or not analysis.get("templates"):
            continue
        path = f"spec.strategy.blueGreen.{which}Analysis"
        try:
            new_run_spec(ro, analysis, build_args(analysis.get("args") or [], "", ""), path)
        except InvalidAnalysis as err:
            return str(err)
    return ""


# --- the controller's part -------------------------------------------------------------------
class RolloutAnalysis:
    """rolloutContext's analysis half for one pass: the current runs it started from and the
    ones it ends with."""

    def __init__(self, p: Pass) -> None:
        self.p = p
        self.current = current_runs(p.ro, p.old)
        self.new: dict[str, dict[str, Any] | None] = dict(self.current)

    def spec(self, which: str) -> dict[str, Any] | None:
        analysis = self.p.bg.get(f"{which}Analysis")
        return analysis if analysis and analysis.get("templates") else None

    def completed_pre_promotion(self) -> bool:
        """completedPrePromotionAnalysis."""
        if self.p.bg.get("prePromotionAnalysis") is None:
            return True
        return _phase(self.current[PRE]) == SUCCESSFUL

    def post_promotion_successful(self) -> bool:
        if self.p.bg.get("postPromotionAnalysis") is None:
            return True
        return _phase(self.current[POST]) == SUCCESSFUL

    def post_promotion_blocks_scale_down(self) -> bool:
        """scaleDownOldReplicaSetsForBlueGreen: no old ReplicaSet goes while an inconclusive
        pause holds, or while post-promotion analysis (without scaleDownDelaySeconds) has not
        succeeded."""
        if _pause(self.p.old, INCONCLUSIVE_PAUSE):
            return True
        bg = self.p.bg
        if (
            bg.get("postPromotionAnalysis") is not None
            and bg.get("scaleDownDelaySeconds") is None
            and not self._skip_post(self.current[POST])
        ):
            return _phase(self.current[POST]) != SUCCESSFUL
        return False

    def reconcile(self) -> None:
        """reconcileAnalysisRuns (blue-green)."""
        p, old = self.p, self.p.old
        fully_promoted = bool(old.get("stableRS")) and old.get("stableRS") == old.get(
            "currentPodHash"
        )
        cancel = (
            fully_promoted
            or p.pause.aborted()
            or bool(old.get("promoteFull"))
            or p.fast_rollback()
            or not old.get("stableRS")
        )
        if cancel:
            self._cancel(*self.current.values())
            self.new = dict(self.current)  # blue-green keeps its current runs once stable
        else:
            self.new[PRE] = self._reconcile_pre()
            self._pause_or_abort(self.new[PRE], PRE)
            self.new[POST] = self._reconcile_post()
            self._pause_or_abort(self.new[POST], POST)
        keep = {id(r) for r in self.new.values() if r is not None}
        self._cancel(*(r for r in p.ro.analysis_runs.values() if id(r) not in keep))
        # shouldCancelAllAnalysisRuns returns before the garbage collection; its conditions
        # (the port's cancel also counts a rollback to stable, which upstream does not)
        skips_gc = (
            p.pause.aborted()
            or bool(old.get("promoteFull"))
            or p.within_delay
            or not old.get("stableRS")
            or (p.is_rollback() and p.within_window())
        )
        if not skips_gc:
            self._collect_garbage(keep)

    def _collect_garbage(self, keep: set[int]) -> None:
        """FilterAnalysisRunsToDelete over the runs that are not current, newest first: a run
        without a pod hash or whose ReplicaSet is gone goes; of the rest, the newest
        ``spec.analysis.successfulRunHistoryLimit`` Successful and
        ``unsuccessfulRunHistoryLimit`` Failed/Error/Inconclusive ones stay (5 and 5)."""
        ro = self.p.ro
        limits = ro.spec.get("analysis") or {}
        room = {
            "ok": int(limits.get("successfulRunHistoryLimit", HISTORY_LIMIT)),
            "bad": int(limits.get("unsuccessfulRunHistoryLimit", HISTORY_LIMIT)),
        }
        hashes = {rs.hash for rs in ro.replicasets}
        others = [r for r in ro.analysis_runs.values() if id(r) not in keep]
        others.sort(key=lambda r: float(r["metadata"].get("created") or 0), reverse=True)
        for run in others:
            pod_hash = (run["metadata"].get("labels") or {}).get(HASH_LABEL)
            phase = _phase(run)
            kind = "ok" if phase == SUCCESSFUL else "bad" if phase in UNSUCCESSFUL else None
            if pod_hash in hashes and kind is None:
                continue  # still running: kept
            if pod_hash in hashes and kind is not None and room[kind] > 0:
                room[kind] -= 1
                continue
            del ro.analysis_runs[run["metadata"]["name"]]

    def status(self) -> dict[str, Any]:
        """SetCurrentAnalysisRuns: the RolloutAnalysisRunStatus fields of status.blueGreen."""
        out: dict[str, Any] = {}
        for which, run in self.new.items():
            if run is not None:
                entry = {"name": run["metadata"]["name"], "status": _phase(run)}
                message = (run.get("status") or {}).get("message")
                if message:
                    entry["message"] = message
                out[status_field(which)] = entry
        return out

    def _pause_or_abort(self, run: dict[str, Any] | None, which: str) -> None:
        """setPauseOrAbortForBlueGreen."""
        phase = _phase(run)
        if phase == INCONCLUSIVE:
            if INCONCLUSIVE_PAUSE not in self.p.pause.add:
                self.p.pause.add.append(INCONCLUSIVE_PAUSE)
        elif phase in (ERROR, FAILED):
            message = ABORT_MESSAGES[which]
            assert run is not None
            if run["status"].get("message"):
                message += ": " + str(run["status"]["message"])
            self.p.pause.add_abort = True
            self.p.pause.abort_message = message

    def _needs_new(self, run: dict[str, Any] | None) -> bool:
        """needsNewAnalysisRun."""
        if run is None:
            return True
        old = self.p.old
        if old.get("controllerPause") and not _pause(old, "BlueGreenPause"):
            return _phase(run) == INCONCLUSIVE
        return old.get("abortedAt") is not None

    def _skip_pre(self, run: dict[str, Any] | None) -> bool:
        """skipPrePromotionAnalysisRun."""
        p, old = self.p, self.p.old
        assert p.new_rs is not None
        active = (old.get("blueGreen") or {}).get("activeSelector") or ""
        if old.get("stableRS") == p.new_rs.hash or not active or active == p.new_rs.hash:
            return True
        if run is not None:
            return False
        preview = p.bg.get("previewReplicaCount")
        if preview is not None:
            wanted = int(preview)
            return p.new_rs.replicas != wanted or p.available(p.new_rs) != wanted
        return not p.saturated(p.new_rs)

    def _skip_post(self, run: dict[str, Any] | None) -> bool:
        """skipPostPromotionAnalysisRun."""
        p, old = self.p, self.p.old
        assert p.new_rs is not None
        active = (old.get("blueGreen") or {}).get("activeSelector") or ""
        if old.get("stableRS") == p.new_rs.hash or active != p.new_rs.hash:
            return True
        if run is not None:
            return False
        return not p.saturated(p.new_rs)

    def _reconcile_pre(self) -> dict[str, Any] | None:
        return self._reconcile_one(PRE, self._skip_pre)

    def _reconcile_post(self) -> dict[str, Any] | None:
        return self._reconcile_one(POST, self._skip_post)

    def _reconcile_one(
        self, which: str, skip: Callable[[dict[str, Any] | None], bool]
    ) -> dict[str, Any] | None:
        run = self.current[which]
        analysis = self.spec(which)
        if analysis is None:
            self._cancel(run)
            return None
        if skip(run):
            self._cancel(run)
            return run
        if _pause(self.p.old, INCONCLUSIVE_PAUSE):
            return run
        if self._needs_new(run):
            try:
                return self._create(which, analysis)
            except InvalidAnalysis:
                return run  # createAnalysisRun's error: the pass goes on, the next one retries
        return run

    def _create(self, which: str, analysis: dict[str, Any]) -> dict[str, Any]:
        """createAnalysisRun + newAnalysisRunFromRollout + CreateWithCollisionCounter."""
        p, ro = self.p, self.p.ro
        assert p.new_rs is not None
        stable = p.stable_rs.hash if p.stable_rs is not None else ""
        args = build_args(analysis.get("args") or [], stable, p.new_rs.hash)
        path = f"spec.strategy.blueGreen.{which}Analysis"
        spec = new_run_spec(ro, analysis, args, path)
        revision = str(p.new_rs.revision)
        base = f"{ro.name}-{p.new_rs.hash}-{revision}-{INFIX[which]}"
        labels = {HASH_LABEL: p.new_rs.hash, TYPE_LABEL: TYPE_VALUES[which]}
        metadata = analysis.get("analysisRunMetadata") or {}
        labels.update(metadata.get("labels") or {})
        labels.update(((ro.spec.get("selector") or {}).get("matchLabels")) or {})
        annotations = {REVISION: revision, **(metadata.get("annotations") or {})}
        name, collision = base, 1
        while name in ro.analysis_runs:
            existing = ro.analysis_runs[name]
            if existing["spec"] == spec and _phase(existing) not in COMPLETED:
                return existing
            name, collision = f"{base}.{collision}", collision + 1
        run: dict[str, Any] = {
            "metadata": {
                "name": name,
                "namespace": ro.namespace,
                "uid": new_uid(),
                "created": p.now,
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [
                    {
                        "apiVersion": "argoproj.io/v1alpha1",
                        "kind": "Rollout",
                        "name": ro.name,
                        "uid": ro.uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
            "status": {},
        }
        ro.analysis_runs[name] = run
        return run

    @staticmethod
    def _cancel(*runs: dict[str, Any] | None) -> None:
        """cancelAnalysisRuns: spec.terminate on a run that has not completed."""
        for run in runs:
            if (
                run is not None
                and not run["spec"].get("terminate")
                and _phase(run) not in COMPLETED
            ):
                run["spec"]["terminate"] = True


def _pause(status: dict[str, Any], reason: str) -> bool:
    return any(c.get("reason") == reason for c in status.get("pauseConditions") or [])
