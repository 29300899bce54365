"""RolloutInfo, the dashboard's view of a Rollout (``pkg/kubectl-argo-rollouts/info``), and the
``kubectl argo rollouts get rollout`` text rendered from it (used by ``sandbox demo``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gitops_release.sandbox.clock import human_duration, parse_rfc3339
from gitops_release.sandbox.replicaset import REVISION, SCALE_DOWN_DEADLINE
from gitops_release.sandbox.rollout import Rollout
from gitops_release.sandbox.rolloutanalysis import run_object

ICONS = {
    "Healthy": "✔",
    "Progressing": "◌",
    "Paused": "॥",
    "Degraded": "✖",
    "ScaledDown": "•",
    "ReplicaFailure": "✖",
    "Running": "✔",
    "Error": "⚠",
    "Unknown": "?",
}


def _pod_icon(status: str) -> str:
    if status in ("Running", "Completed"):
        return "✔"
    if status in ("Failed", "CrashLoopBackOff") or status.startswith(("ExitCode:", "Signal:")):
        return "✖"
    if status in ("ImagePullBackOff", "ErrImagePull") or status.endswith("Error"):
        return "⚠"
    return "◌"


def _phase(meta: dict[str, Any], status: dict[str, Any]) -> tuple[str, str]:
    """rolloututil.GetRolloutPhase: the client's checks, then the controller's phase."""
    observed = str(status.get("observedGeneration", ""))
    if observed.isdigit() and int(observed) < int(meta.get("generation", 0)):
        return "Progressing", "waiting for rollout spec update to be observed"
    if status.get("controllerPause") and not status.get("pauseConditions"):  # IsUnpausing
        return "Progressing", "waiting for rollout to unpause"
    return str(status.get("phase", "Progressing")), str(status.get("message", ""))


def rollout_info(rollout: Rollout, resource_version: str) -> dict[str, Any]:
    obj = rollout.to_object(resource_version)
    meta, spec, status = obj["metadata"], obj["spec"], obj["status"]
    now = rollout.clock.seconds()
    phase, message = _phase(meta, status)
    info: dict[str, Any] = {
        "objectMeta": {
            k: meta[k]
            for k in (
                "name",
                "namespace",
                "uid",
                "generation",
                "creationTimestamp",
                "resourceVersion",
            )
        },
        "status": phase,
        "icon": ICONS.get(phase, "?"),
        "strategy": "BlueGreen" if "blueGreen" in (spec.get("strategy") or {}) else "Canary",
        "restartedAt": status.get("restartedAt") or "Never",
        "generation": status.get("observedGeneration", ""),
        "containers": [
            {"name": c.get("name", ""), "image": c.get("image", "")}
            for c in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        ],
    }
    if message:
        info["message"] = message
    for field, source in (
        ("ready", "readyReplicas"),
        ("current", "replicas"),
        ("updated", "updatedReplicas"),
        ("available", "availableReplicas"),
    ):
        if status.get(source):
            info[field] = status[source]
    if spec.get("replicas", 1):
        info["desired"] = spec.get("replicas", 1)
    selectors = status.get("blueGreen") or {}
    replica_sets = []
    for rs in sorted(rollout.replicasets, key=lambda r: -r.revision):
        rs_obj = rs.to_object(obj, now, rollout.clock, rollout.timing)
        available = rs.available(now, rollout.timing)
        if rs.replicas == 0:
            rs_status = "ScaledDown"
        elif available < rs.replicas:
            rs_status = "Progressing"
        else:
            rs_status = "Healthy"
        entry: dict[str, Any] = {
            "objectMeta": {
                k: rs_obj["metadata"][k] for k in ("name", "namespace", "uid", "creationTimestamp")
            },
            "status": rs_status,
            "icon": ICONS[rs_status],
            "revision": rs.revision,
            "images": rs.images,
        }
        if rs.hash == status.get("stableRS"):
            entry["stable"] = True
        if rs.hash == selectors.get("activeSelector"):
            entry["active"] = True
        elif rs.hash == selectors.get("previewSelector"):
            entry["preview"] = True
        if rs.pods:
            entry["replicas"] = len(rs.pods)
        if available:
            entry["available"] = available
        if SCALE_DOWN_DEADLINE in rs.annotations:
            entry["scaleDownDeadline"] = rs.annotations[SCALE_DOWN_DEADLINE]
        pods = []
        for pod in rs.pod_objects(meta["namespace"], now, rollout.clock, rollout.timing):
            cs = pod["status"]["containerStatuses"][0]
            shown = "Running" if "running" in cs["state"] else cs["state"]["waiting"]["reason"]
            pod_info: dict[str, Any] = {
                "objectMeta": {
                    k: pod["metadata"][k] for k in ("name", "namespace", "uid", "creationTimestamp")
                },
                "status": shown,
                "icon": _pod_icon(shown),
                "ready": f"{int(cs['ready'])}/1",
            }
            if cs["restartCount"]:
                pod_info["restarts"] = cs["restartCount"]
            pods.append(pod_info)
        if pods:
            entry["pods"] = pods
        replica_sets.append(entry)
    if replica_sets:
        info["replicaSets"] = replica_sets
    runs = analysis_run_infos(rollout, resource_version)
    if runs:
        info["analysisRuns"] = runs
    return info


ANALYSIS_ICONS = {
    "Successful": "✔",
    "Inconclusive": "?",
    "Failed": "✖",
    "Error": "⚠",
    "Running": "◌",
    "Pending": "◷",
}


def analysis_run_infos(rollout: Rollout, resource_version: str) -> list[dict[str, Any]]:
    """getAnalysisRunInfo (pkg/kubectl-argo-rollouts/info/analysisrun_info.go): the runs the
    Rollout owns, newest revision first, with each metric's counts and measurements."""
    infos = []
    for run in rollout.analysis_runs.values():
        obj = run_object(run, rollout.clock, resource_version)
        meta, spec, status = obj["metadata"], obj["spec"], obj.get("status") or {}
        entry: dict[str, Any] = {
            "objectMeta": {k: meta[k] for k in ("name", "namespace", "creationTimestamp", "uid")},
            "specAndStatus": {"spec": spec, "status": status},
            "metrics": [
                {
                    "name": m.get("name", ""),
                    "successCondition": m.get("successCondition", ""),
                    "inconclusiveLimit": _int_or_zero(m.get("inconclusiveLimit")),
                    "count": _int_or_zero(m.get("count")),
                    "failureLimit": _int_or_zero(m.get("failureLimit")),
                }
                for m in spec.get("metrics") or []
            ],
            "status": status.get("phase", ""),
            "icon": ANALYSIS_ICONS.get(status.get("phase", ""), " "),
            "revision": int((meta.get("annotations") or {}).get(REVISION, "0") or 0),
        }
        counts = dict.fromkeys(("successful", "failed", "inconclusive", "error"), 0)
        non_job = []
        for result in status.get("metricResults") or []:
            for key in counts:
                counts[key] += int(result.get(key) or 0)
            for m in result.get("measurements") or []:
                non_job.append(
                    {
                        "value": m.get("value", ""),
                        "status": m.get("phase", ""),
                        "startedAt": m.get("startedAt"),
                        "metricName": result["name"],
                    }
                )
        entry.update({k: v for k, v in counts.items() if v})
        if non_job:
            entry["nonJobInfo"] = non_job
        infos.append(entry)
    infos.sort(
        key=lambda i: (
            -i["revision"],
            i["objectMeta"]["creationTimestamp"],
            i["objectMeta"]["name"],
        )
    )
    return infos


def _int_or_zero(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def render_tree(info: dict[str, Any], now: datetime) -> str:
    """``kubectl argo rollouts get rollout`` from a RolloutInfo (argo-api.md section 3.7)."""

    def age(meta: dict[str, Any]) -> str:
        return human_duration((now - parse_rfc3339(meta["creationTimestamp"])).total_seconds())

    def tags(rs: dict[str, Any]) -> list[str]:
        out = [t for t in ("stable", "active", "preview") if rs.get(t)]
        deadline = rs.get("scaleDownDeadline")
        if deadline:
            left = (parse_rfc3339(deadline) - now).total_seconds()
            out.append(f"delay:{human_duration(left)}" if left > 0 else "delay:passed")
        return out

    meta = info["objectMeta"]
    status = f"{info['icon']} {info['status']}"
    lines = [
        f"Name:            {meta['name']}",
        f"Namespace:       {meta['namespace']}",
        f"Status:          {status}",
    ]
    if info.get("message"):
        lines.append(f"Message:         {info['message']}")
    lines.append(f"Strategy:        {info['strategy']}")
    images: dict[str, list[str]] = {}
    for rs in info.get("replicaSets", []):
        if rs.get("replicas"):
            for image in rs.get("images", []):
                images.setdefault(image, []).extend(
                    t for t in tags(rs) if not t.startswith("delay")
                )
    for i, (image, image_tags) in enumerate(sorted(images.items())):
        label = "Images:          " if i == 0 else "                 "
        suffix = f" ({', '.join(dict.fromkeys(image_tags))})" if image_tags else ""
        lines.append(f"{label}{image}{suffix}")
    lines.append("Replicas:")
    for label, field in (
        ("Desired", "desired"),
        ("Current", "current"),
        ("Updated", "updated"),
        ("Ready", "ready"),
        ("Available", "available"),
    ):
        lines.append(f"  {label + ':':<15}{info.get(field, 0)}")
    rows: list[tuple[str, str, str, str, str]] = [
        (f"⟳ {meta['name']}", "Rollout", status, age(meta), "")
    ]
    sets = info.get("replicaSets", [])
    for i, rs in enumerate(sets):
        last = i == len(sets) - 1
        branch, cont = ("└──", "   ") if last else ("├──", "│  ")
        rows.append((f"{branch}# revision:{rs['revision']}", "", "", "", ""))
        rows.append(
            (
                f"{cont}└──⧉ {rs['objectMeta']['name']}",
                "ReplicaSet",
                f"{rs['icon']} {rs['status']}",
                age(rs["objectMeta"]),
                ",".join(tags(rs)),
            )
        )
        pods = rs.get("pods", [])
        for j, pod in enumerate(pods):
            pod_branch = "└──" if j == len(pods) - 1 else "├──"
            info_col = f"ready:{pod['ready']}" + (
                f",restarts:{pod['restarts']}" if pod.get("restarts") else ""
            )
            rows.append(
                (
                    f"{cont}   {pod_branch}□ {pod['objectMeta']['name']}",
                    "Pod",
                    f"{pod['icon']} {pod['status']}",
                    age(pod["objectMeta"]),
                    info_col,
                )
            )
    header = ("NAME", "KIND", "STATUS", "AGE", "INFO")
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(4)]
    out = []
    for row in [header, *rows]:
        cells = [row[c].ljust(widths[c]) for c in range(4)] + [row[4]]
        out.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n\n" + "\n".join(out)
