"""Status views: the Rollout tree exactly as ``kubectl argo rollouts get rollout`` draws it, the app
header above it, the ``list`` table; the JSON views come from the same view model (pure).

The layout follows argo-rollouts ``pkg/kubectl-argo-rollouts/cmd/get/get_rollout.go``: a
``%-17s`` header block, then a tab-aligned tree (Go ``text/tabwriter``: padding 2, widths in
runes), ReplicaSets by revision (newest first), pods by creation time then name, INFO tags
``stable``, then one of ``active``/``preview``, then ``delay:<duration>`` or ``delay:passed``.
Ages use Kubernetes' ``HumanDuration``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from gitops_release.argo.model import parse_time
from gitops_release.output import short_sha

ICON_ROLLOUT, ICON_REVISION, ICON_RS, ICON_POD = "⟳", "#", "⧉", "□"
ICON_OK, ICON_BAD, ICON_PAUSED, ICON_PROGRESSING = "✔", "✖", "॥", "◌"
ICON_WARNING, ICON_UNKNOWN, ICON_NEUTRAL = "⚠", "?", "•"
ICON_ANALYSIS, ICON_WAITING = "α", "◷"

ANALYSIS_ICONS = {
    "Successful": ICON_OK,
    "Inconclusive": ICON_UNKNOWN,
    "Failed": ICON_BAD,
    "Error": ICON_WARNING,
    "Running": ICON_PROGRESSING,
    "Pending": ICON_WAITING,
}

STATUS_ICONS = {
    "Healthy": ICON_OK,
    "Progressing": ICON_PROGRESSING,
    "Paused": ICON_PAUSED,
    "Degraded": ICON_BAD,
    "Error": ICON_WARNING,
    "InvalidSpec": ICON_WARNING,
    "ScaledDown": ICON_NEUTRAL,
    "ReplicaFailure": ICON_BAD,
}


def pod_icon(status: str) -> str:
    """``pod_info.go`` podIcon."""
    if status.startswith("Init:"):
        return ICON_PROGRESSING
    if status.startswith(("Signal:", "ExitCode:")):
        return ICON_BAD
    if status.endswith("Error") or status.startswith("ErrImagePull"):
        return ICON_WARNING
    if status in ("Pending", "Terminating", "ContainerCreating"):
        return ICON_PROGRESSING
    if status in ("Running", "Completed"):
        return ICON_OK
    if status in ("Failed", "InvalidImageName", "CrashLoopBackOff"):
        return ICON_BAD
    if status in ("ImagePullBackOff", "RegistryUnavailable"):
        return ICON_WARNING
    return " "


def status_icon(status: str) -> str:
    return STATUS_ICONS.get(status, ICON_UNKNOWN)


@dataclass
class PodView:
    name: str
    status: str
    ready: str = "0/1"
    restarts: int = 0
    created_at: str = ""

    @property
    def icon(self) -> str:
        return pod_icon(self.status)


@dataclass
class ReplicaSetView:
    name: str
    revision: int
    status: str
    stable: bool = False
    active: bool = False
    preview: bool = False
    replicas: int = 0
    available: int = 0
    images: list[str] = field(default_factory=list)
    scale_down_deadline: str = ""
    created_at: str = ""
    pods: list[PodView] = field(default_factory=list)


@dataclass
class MetricView:
    """One metric of an AnalysisRun, with its last measurement (``-o json``)."""

    name: str
    phase: str = ""
    success_condition: str = ""
    failure_condition: str = ""
    count: int = 0
    measured: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    message: str = ""
    last_value: str = ""
    last_phase: str = ""
    last_message: str = ""


@dataclass
class AnalysisRunView:
    name: str
    revision: int
    status: str
    kind: str = ""
    """PrePromotion, PostPromotion, Background (the run's ``rollout-type`` label)."""
    message: str = ""
    created_at: str = ""
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    metrics: list[MetricView] = field(default_factory=list)


@dataclass
class RolloutView:
    name: str
    namespace: str
    status: str
    message: str = ""
    strategy: str = "BlueGreen"
    desired: int = 0
    current: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    created_at: str = ""
    replica_sets: list[ReplicaSetView] = field(default_factory=list)
    analysis_runs: list[AnalysisRunView] = field(default_factory=list)


@dataclass
class AppView:
    name: str
    sync: str
    health: str
    revision: str = ""
    target_revision: str = ""
    operation: str = ""
    prod_url: str = ""
    preview_url: str = ""
    reconciled_at: str = ""
    note: str = ""
    rollout: RolloutView | None = None


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery ``duration.HumanDuration``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def age(created_at: str, now: dt.datetime) -> str:
    when = parse_time(created_at)
    return human_duration((now - when).total_seconds()) if when else ""


def scale_down_delay(deadline: str, now: dt.datetime) -> str:
    when = parse_time(deadline)
    if when is None:
        return ""
    return "passed" if when < now else human_duration((when - now).total_seconds())


def images_line(view: RolloutView) -> list[str]:
    """``info.Images``: images of ReplicaSets with replicas > 0, tags merged, sorted by image."""
    images: dict[str, list[str]] = {}
    for rs in view.replica_sets:
        if rs.replicas <= 0:
            continue
        for image in rs.images:
            tags = [
                t
                for t, on in (("stable", rs.stable), ("active", rs.active), ("preview", rs.preview))
                if on
            ]
            if image in images:
                images[image] = sorted(set(images[image]) | set(tags))
            else:
                images[image] = tags
    return [f"{img} ({', '.join(tags)})" if tags else img for img, tags in sorted(images.items())]


def tabwrite(rows: list[list[str]], padding: int = 2) -> str:
    """Go ``text/tabwriter`` for rows whose cells but the last are tab-terminated; without the
    padding Go leaves at the end of a line whose last cells are empty (no trailing spaces)."""
    columns = max(len(r) for r in rows) - 1
    widths = [max(len(r[i]) for r in rows if len(r) > i + 1) + padding for i in range(columns)]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append(("".join(cells) + row[-1]).rstrip())
    return "\n".join(lines) + "\n"


def _prefixes(is_last: bool, subpfx: str) -> tuple[str, str]:
    return (subpfx + "└──", subpfx + "   ") if is_last else (subpfx + "├──", subpfx + "│  ")


def render_rollout(view: RolloutView, now: dt.datetime) -> str:
    """The text of ``kubectl argo rollouts get rollout NAME`` (no colour)."""
    fmt = "{:<17}{}\n"
    out = [fmt.format("Name:", view.name), fmt.format("Namespace:", view.namespace)]
    out.append(fmt.format("Status:", f"{status_icon(view.status)} {view.status}"))
    if view.message:
        out.append(fmt.format("Message:", view.message))
    out.append(fmt.format("Strategy:", view.strategy))
    for i, image in enumerate(images_line(view)):
        out.append(fmt.format("Images:" if i == 0 else "", image))
    out.append("Replicas:\n")
    for label, value in (
        ("Desired", view.desired),
        ("Current", view.current),
        ("Updated", view.updated),
        ("Ready", view.ready),
        ("Available", view.available),
    ):
        out.append(fmt.format(f"  {label}:", value))
    out.append("\n")
    rows = [["NAME", "KIND", "STATUS", "AGE", "INFO"]]
    rows.append(
        [
            f"{ICON_ROLLOUT} {view.name}",
            "Rollout",
            f"{status_icon(view.status)} {view.status}",
            age(view.created_at, now),
            "",
        ]
    )
    revisions = sorted(
        {rs.revision for rs in view.replica_sets} | {ar.revision for ar in view.analysis_runs},
        reverse=True,
    )
    for i, revision in enumerate(revisions):
        prefix, subpfx = _prefixes(i == len(revisions) - 1, "")
        rows.append([f"{prefix}{ICON_REVISION} revision:{revision}", "", " ", "", ""])
        sets = [rs for rs in view.replica_sets if rs.revision == revision]
        runs = [ar for ar in view.analysis_runs if ar.revision == revision]
        total = len(sets) + len(runs)
        for j, rs in enumerate(sets):
            rs_prefix, rs_sub = _prefixes(j == total - 1, subpfx)
            tags = [t for t, on in (("stable", rs.stable),) if on]
            if rs.active:
                tags.append("active")
            elif rs.preview:
                tags.append("preview")
            if rs.scale_down_deadline:
                tags.append(f"delay:{scale_down_delay(rs.scale_down_deadline, now)}")
            rows.append(
                [
                    f"{rs_prefix}{ICON_RS} {rs.name}",
                    "ReplicaSet",
                    f"{status_icon(rs.status)} {rs.status}",
                    age(rs.created_at, now),
                    ",".join(tags),
                ]
            )
            pods = sorted(rs.pods, key=lambda p: (parse_time(p.created_at) or now, p.name))
            for k, pod in enumerate(pods):
                pod_prefix, _ = _prefixes(k == len(pods) - 1, rs_sub)
                info = [f"ready:{pod.ready}"] + (
                    [f"restarts:{pod.restarts}"] if pod.restarts else []
                )
                rows.append(
                    [
                        f"{pod_prefix}{ICON_POD} {pod.name}",
                        "Pod",
                        f"{pod.icon} {pod.status}",
                        age(pod.created_at, now),
                        ",".join(info),
                    ]
                )
        for j, run in enumerate(runs, start=len(sets)):
            run_prefix, _ = _prefixes(j == total - 1, subpfx)
            rows.append(_analysis_row(run, run_prefix, now))
    return "".join(out) + tabwrite(rows)


def _analysis_row(run: AnalysisRunView, prefix: str, now: dt.datetime) -> list[str]:
    """``PrintAnalysisRunInfo``: counts of successful, failed, inconclusive, error measurements."""
    counts = [
        f"{icon} {n}"
        for icon, n in (
            (ICON_OK, run.successful),
            (ICON_BAD, run.failed),
            (ICON_UNKNOWN, run.inconclusive),
            (ICON_WARNING, run.error),
        )
        if n > 0
    ]
    return [
        f"{prefix}{ICON_ANALYSIS} {run.name}",
        "AnalysisRun",
        f"{ANALYSIS_ICONS.get(run.status, ' ')} {run.status}",
        age(run.created_at, now),
        ",".join(counts),
    ]


def render_status(view: AppView, now: dt.datetime) -> str:
    """Our ``status``: the Argo CD app in the same ``%-17s`` layout, then the Rollout tree.

    Ages and delays are measured on the server's clock: ``now`` (from its ``Date`` header), or the
    app's last reconcile time when that is later (a server whose ``Date`` lags its controller).
    """
    reconciled = parse_time(view.reconciled_at)
    if reconciled is not None and reconciled > now:
        now = reconciled
    fmt = "{:<17}{}\n"
    revision = short_sha(view.revision) or "-"
    target = f" ({view.target_revision})" if view.target_revision else ""
    out = [
        fmt.format("Application:", view.name),
        fmt.format("Sync:", f"{view.sync} to {revision}{target}"),
        fmt.format("Health:", view.health),
    ]
    if view.operation:
        out.append(fmt.format("Operation:", view.operation))
    if view.prod_url:
        out.append(fmt.format("Prod URL:", view.prod_url))
    if view.preview_url:
        out.append(fmt.format("Preview URL:", view.preview_url))
    if view.note:
        out.append(fmt.format("Note:", view.note))
    text = "".join(out)
    if view.rollout is not None:
        text += "\n" + render_rollout(view.rollout, now)
    return text


def status_json(view: AppView) -> dict[str, Any]:
    data = asdict(view)
    if view.rollout is not None:
        data["rollout"]["images"] = images_line(view.rollout)
    return data


@dataclass
class ListRow:
    name: str
    sync: str
    health: str
    revision: str
    rollout: str = ""
    strategy: str = ""
    status: str = ""
    ready: str = ""
    namespace: str = ""
    """The Application's destination namespace (``-o wide`` from here on)."""
    project: str = ""
    repo: str = ""
    path: str = ""
    target: str = ""
    """The source's ``targetRevision`` (a branch, tag or commit; empty means HEAD)."""


LIST_FORMATS = ("text", "json", "wide", "yaml", "name")
"""``list -o``: argocd app list's formats (``wide``, ``yaml``, ``name``) besides ours."""


def list_payload(rows: list[ListRow]) -> dict[str, Any]:
    """``list -o json`` (and ``-o yaml``, the same document)."""
    return {"apps": [asdict(r) for r in rows]}


def render_list(rows: list[ListRow], fmt: str = "text") -> str:
    """The table (``wide``: with namespace, project and source), the names, or the YAML."""
    if fmt == "name":
        return "".join(f"{name}\n" for name in dict.fromkeys(r.name for r in rows))
    if fmt == "yaml":
        from gitops_release.yaml.dump import dump

        return dump(list_payload(rows))
    table = [["NAME", "SYNC", "HEALTH", "REVISION", "ROLLOUT", "STRATEGY", "STATUS", "READY"]]
    if fmt == "wide":
        table[0] += ["NAMESPACE", "PROJECT", "REPO", "PATH", "TARGET"]
    for r in rows:
        row = [
            r.name,
            r.sync,
            r.health,
            short_sha(r.revision) or "-",
            r.rollout or "-",
            r.strategy or "-",
            r.status or "-",
            r.ready or "-",
        ]
        if fmt == "wide":
            row += [r.namespace or "-", r.project or "-", r.repo or "-", r.path or "-"]
            row.append(r.target or "HEAD")
        table.append(row)
    text = tabwrite(table)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


@dataclass
class HistoryRow:
    id: int
    revision: str
    deployed_at: str
    initiated_by: str
    image: str = ""
    previous: str = ""
    author: str = ""
    message: str = ""
    digest: str = ""
    """The registry's digest of ``image`` when it was released (``Release-Digest``)."""
    release_set: list[str] = field(default_factory=list)
    """The apps of the release set this commit released together (``Release-Set``), or []."""


def render_history(rows: list[HistoryRow]) -> str:
    if not rows:
        return "no deployments recorded yet\n"
    digests = any(r.digest for r in rows)  # the column only when a release recorded one
    sets = any(r.release_set for r in rows)  # likewise: a release set's commit
    head = ["ID", "DEPLOYED", "REVISION", "IMAGE", "PREVIOUS", "AUTHOR", "BY", "MESSAGE"]
    table = [[*head[:4], "DIGEST", *head[4:]] if digests else head]
    if sets:
        table[0].insert(-1, "SET")
    for r in rows:
        cells = [
            str(r.id),
            r.deployed_at or "-",
            short_sha(r.revision) or "-",
            r.image or "-",
            r.previous or "-",
            r.author or "-",
            r.initiated_by or "-",
            r.message or "-",
        ]
        if digests:
            cells.insert(4, r.digest[:19] or "-")  # sha256: and 12 hex digits, as docker shows
        if sets:
            cells.insert(-1, ", ".join(r.release_set) or "-")
        table.append(cells)
    text = tabwrite(table)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


_COLORS = {
    ICON_OK: "32",
    ICON_BAD: "31",
    ICON_WARNING: "31",
    ICON_PROGRESSING: "33",
    ICON_PAUSED: "90",
    ICON_NEUTRAL: "90",
}
_TAG_COLORS = {"stable": "32", "active": "32", "preview": "34"}


def colorize(text: str) -> str:
    """Status icons and INFO tags in colour, as kubectl-argo-rollouts does (applied after the
    layout, so the columns stay aligned)."""
    import re

    def icon(match: re.Match[str]) -> str:
        return f"\033[{_COLORS[match[1]]}m{match[1]}\033[0m{match[2]}"

    text = re.sub(rf"([{''.join(_COLORS)}])( )", icon, text)
    return re.sub(
        r"(?<=[ ,(])(stable|active|preview)(?=[,)\n])",
        lambda m: f"\033[{_TAG_COLORS[m[1]]}m{m[1]}\033[0m",
        text,
    )
