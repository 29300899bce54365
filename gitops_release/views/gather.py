"""Gather what ``status``, ``list`` and ``history`` show, from Argo CD (or the Rollouts dashboard),
into the view model of :mod:`gitops_release.views.render`.

Through Argo CD alone (no kubeconfig): the Application, its resource tree (ReplicaSets, Pods), the
live Rollout and each live ReplicaSet (revision, replicas, scale-down deadline), and the live
IngressRoutes for the prod and preview URLs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gitops_release.argo import http
from gitops_release.argo.client import ArgoCD
from gitops_release.argo.connection import Connection
from gitops_release.argo.model import (
    AnalysisRun,
    Application,
    MetricResult,
    ReplicaSet,
    ResourceRef,
    ResourceTree,
    Rollout,
    TreeNode,
    find_rollout,
)
from gitops_release.argo.routes import urls
from gitops_release.argo.types import Via
from gitops_release.errors import RemoteError, UsageError
from gitops_release.views.render import (
    AnalysisRunView,
    AppView,
    ListRow,
    MetricView,
    PodView,
    ReplicaSetView,
    RolloutView,
)


def client_phase(ro: Rollout) -> tuple[str, str]:
    """``rolloututil.GetRolloutPhase``: what the Rollouts CLI shows as Status and Message."""
    if not ro.observed:
        return "Progressing", "waiting for rollout spec update to be observed"
    if ro.controller_pause and not ro.pause_reasons and not ro.paused:
        return "Progressing", "waiting for rollout to unpause"
    return ro.phase or "Progressing", ro.message


def rs_status(replicas: int, available: int) -> str:
    if replicas == 0:
        return "ScaledDown"
    return "Progressing" if available < replicas else "Healthy"


def _pods(tree: ResourceTree, node: TreeNode | None) -> list[PodView]:
    if node is None:
        return []
    pods = []
    for pod in tree.children(node, "Pod"):
        status = pod.info.get("Status Reason") or {
            "Healthy": "Running",
            "Progressing": "Pending",
            "Degraded": "Failed",
        }.get(pod.health, pod.health or "Unknown")
        try:
            restarts = int(pod.info.get("Restart Count") or 0)
        except ValueError:
            restarts = 0
        pods.append(
            PodView(
                name=pod.name,
                status=status,
                ready=pod.info.get("Containers") or "?",
                restarts=restarts,
                created_at=pod.created_at,
            )
        )
    return pods


def _rs_from_node(node: TreeNode, tree: ResourceTree) -> ReplicaSet:
    revision = node.info.get("Revision", "").removeprefix("Rev:")
    pods = tree.children(node, "Pod")
    return ReplicaSet(
        name=node.name,
        namespace=node.namespace,
        revision=int(revision) if revision.isdigit() else 0,
        replicas=len(pods),
        available=sum(1 for p in pods if p.health == "Healthy"),
        images=node.images,
        created_at=node.created_at,
    )


def _metric_view(m: MetricResult) -> MetricView:
    last = m.last
    return MetricView(
        name=m.name,
        phase=m.phase,
        success_condition=m.success_condition,
        failure_condition=m.failure_condition,
        count=m.count,
        measured=m.measured,
        successful=m.successful,
        failed=m.failed,
        inconclusive=m.inconclusive,
        error=m.error,
        message=m.message,
        last_value=last.value if last else "",
        last_phase=last.phase if last else "",
        last_message=last.message if last else "",
    )


def analysis_run_view(run: AnalysisRun) -> AnalysisRunView:
    return AnalysisRunView(
        name=run.name,
        revision=run.revision,
        status=run.phase,
        kind=run.rollout_type,
        message=run.message,
        created_at=run.created_at,
        successful=run.total("successful"),
        failed=run.total("failed"),
        inconclusive=run.total("inconclusive"),
        error=run.total("error"),
        metrics=[_metric_view(m) for m in run.metrics],
    )


def sort_runs(runs: list[AnalysisRunView]) -> list[AnalysisRunView]:
    """``getAnalysisRunInfo``'s order: newest revision first, then oldest first, then name
    descending."""
    runs = sorted(runs, key=lambda r: r.name, reverse=True)
    return sorted(runs, key=lambda r: (-r.revision, r.created_at))


def rollout_view(
    argocd: ArgoCD, app: Application, tree: ResourceTree, ref: ResourceRef
) -> tuple[Rollout, RolloutView]:
    ro = argocd.rollout(app.name, ref)
    ro_node = next((n for n in tree.of_kind("Rollout") if n.name == ref.name), None)
    rs_nodes = (
        tree.children(ro_node, "ReplicaSet")
        if ro_node is not None and ro_node.uid
        else [n for n in tree.of_kind("ReplicaSet") if n.name.startswith(ref.name + "-")]
    )
    sets = []
    for node in rs_nodes:
        try:
            live = argocd.replica_set(app.name, node.name, node.namespace or ref.namespace)
        except RemoteError:
            live = _rs_from_node(node, tree)
        pod_hash = live.pod_hash or node.name.removeprefix(ref.name + "-")
        active = pod_hash == ro.active_selector
        sets.append(
            ReplicaSetView(
                name=live.name,
                revision=live.revision,
                status=rs_status(live.replicas, live.available),
                stable=pod_hash == ro.stable_rs,
                active=active,
                preview=pod_hash == ro.preview_selector and not active,
                replicas=live.replicas,
                available=live.available,
                images=list(live.images or node.images),
                scale_down_deadline=live.scale_down_deadline,
                created_at=live.created_at or node.created_at,
                pods=_pods(tree, node),
            )
        )
    sets.sort(key=lambda rs: rs.revision, reverse=True)
    runs = []
    for node in tree.children(ro_node, "AnalysisRun") if ro_node is not None else []:
        try:
            run = argocd.analysis_run(app.name, node.name, node.namespace or ref.namespace)
        except RemoteError:
            continue  # deleted between the tree and the read
        runs.append(analysis_run_view(run))
    status, message = client_phase(ro)
    view = RolloutView(
        name=ro.name,
        namespace=ro.namespace,
        status=status,
        message=message,
        strategy=ro.strategy,
        desired=ro.replicas,
        current=ro.status_replicas,
        updated=ro.updated_replicas,
        ready=ro.ready_replicas,
        available=ro.available_replicas,
        created_at=ro.created_at or (ro_node.created_at if ro_node else ""),
        replica_sets=sets,
        analysis_runs=sort_runs(runs),
    )
    return ro, view


def rollout_view_from_info(info: dict[str, Any]) -> RolloutView:
    """The same view from the dashboard's RolloutInfo (``--via dashboard``)."""
    meta = info.get("objectMeta") or {}
    sets = []
    for rs in info.get("replicaSets") or []:
        rs_meta = rs.get("objectMeta") or {}
        pods = [
            PodView(
                name=str((p.get("objectMeta") or {}).get("name") or ""),
                status=str(p.get("status") or ""),
                ready=str(p.get("ready") or "0/0"),
                restarts=int(p.get("restarts") or 0),
                created_at=str((p.get("objectMeta") or {}).get("creationTimestamp") or ""),
            )
            for p in rs.get("pods") or []
        ]
        sets.append(
            ReplicaSetView(
                name=str(rs_meta.get("name") or ""),
                revision=int(rs.get("revision") or 0),
                status=str(rs.get("status") or ""),
                stable=bool(rs.get("stable")),
                active=bool(rs.get("active")),
                preview=bool(rs.get("preview")),
                replicas=int(rs.get("replicas") or 0),
                available=int(rs.get("available") or 0),
                images=[str(i) for i in rs.get("images") or []],
                scale_down_deadline=str(rs.get("scaleDownDeadline") or ""),
                created_at=str(rs_meta.get("creationTimestamp") or ""),
                pods=pods,
            )
        )
    sets.sort(key=lambda rs: rs.revision, reverse=True)
    runs = [
        analysis_run_view(
            AnalysisRun.from_json(
                {
                    "metadata": {
                        **(ar.get("objectMeta") or {}),
                        "annotations": {"rollout.argoproj.io/revision": str(ar.get("revision"))},
                    },
                    **(ar.get("specAndStatus") or {}),
                }
            )
        )
        for ar in info.get("analysisRuns") or []
        if isinstance(ar, dict)
    ]
    return RolloutView(
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or ""),
        status=str(info.get("status") or ""),
        message=str(info.get("message") or ""),
        strategy=str(info.get("strategy") or "BlueGreen"),
        desired=int(info.get("desired") or 0),
        current=int(info.get("current") or 0),
        updated=int(info.get("updated") or 0),
        ready=int(info.get("ready") or 0),
        available=int(info.get("available") or 0),
        created_at=str(meta.get("creationTimestamp") or ""),
        replica_sets=sets,
        analysis_runs=sort_runs(runs),
    )


def app_view(
    argocd: ArgoCD, name: str, *, rollout: str | None = None
) -> tuple[Application, AppView]:
    app = argocd.get_app(name)
    tree = argocd.resource_tree(name) if needs_tree(app, rollout) else None
    return app, view_of(argocd, app, tree, rollout=rollout)


def needs_tree(app: Application, rollout: str | None = None) -> bool:
    return rollout is not None or any(r.kind == "Rollout" for r in app.resources)


def view_of(
    argocd: ArgoCD, app: Application, tree: ResourceTree | None, *, rollout: str | None = None
) -> AppView:
    """The status of ``app`` given its resource tree (reads the live Rollout, its ReplicaSets and
    the IngressRoutes through ``argocd``)."""
    view = AppView(
        name=app.name,
        sync=app.sync_status,
        health=app.health,
        revision=app.revision,
        target_revision=app.target_revision,
        reconciled_at=app.reconciled_at,
        operation=f"{app.operation.phase}: {app.operation.message}".rstrip(": ")
        if app.operation
        else "",
    )
    ro = None
    if tree is not None:
        ref = find_rollout(app, tree, rollout)
        try:
            ro, view.rollout = rollout_view(argocd, app, tree, ref)
        except (http.BadRequest, http.NotFound):
            view.note = f"Rollout {ref.namespace}/{ref.name} does not exist yet (sync the app)"
    view.prod_url, view.preview_url = urls(argocd, app, ro)
    return view


def list_rows(argocd: ArgoCD) -> list[ListRow]:
    rows = []
    for app in sorted(argocd.list_apps(), key=lambda a: a.name):
        row = ListRow(app.name, app.sync_status, app.health, app.revision)
        row = replace(
            row, namespace=app.dest_namespace, project=app.project, repo=app.repo_url,
            path=app.path, target=app.target_revision,
        )  # fmt: skip
        rollouts = [r for r in app.resources if r.kind == "Rollout"]
        if not rollouts:
            rows.append(row)
        for res in rollouts:
            ref = ResourceRef("Rollout", res.name, res.namespace or app.dest_namespace)
            try:
                ro = argocd.rollout(app.name, ref)
                status, _ = client_phase(ro)
                ready = f"{ro.available_replicas}/{ro.replicas}"
                rows.append(
                    replace(row, rollout=ro.name, strategy=ro.strategy, status=status, ready=ready)
                )
            except RemoteError:
                rows.append(replace(row, rollout=res.name))
    return rows


def status_view(
    conn: Connection,
    name: str,
    *,
    rollout: str | None = None,
    via: Via = Via.argocd,
    namespace: str | None = None,
) -> AppView:
    """One status: the app from Argo CD, the Rollout tree from Argo CD or the dashboard."""
    from gitops_release.argo import rollouts

    if via is Via.argocd:
        return app_view(conn.argocd(), name, rollout=rollout)[1]
    server = conn.settings.get("rollouts_server")
    if not server:
        raise UsageError("--via dashboard needs ROLLOUTS_SERVER or --rollouts-server")
    view = AppView(name=name, sync="-", health="-")
    ro_name, ro_ns = rollout or name, namespace or "default"
    if conn.settings.get("argocd_server"):
        api = conn.argocd()
        app, view = app_view(api, name, rollout=rollout)
        view.rollout = None
        if view.sync and any(r.kind == "Rollout" for r in app.resources):
            ref = find_rollout(app, name=rollout)
            ro_name, ro_ns = ref.name, ref.namespace
    client = rollouts.dashboard_client(str(server), deadline=conn.deadline())
    info = rollouts.DashboardControl(client, ro_ns, ro_name).info()
    view.rollout = rollout_view_from_info(info)
    return view
