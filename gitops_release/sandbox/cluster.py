"""The simulated cluster: live objects per app, Rollouts driven by the controller, Services whose
selectors the controller switches, and Traefik IngressRoutes the ingress routes by Host.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from gitops_release.sandbox.analysis import due_measurements
from gitops_release.sandbox.analysis import reconcile as reconcile_analysis_run
from gitops_release.sandbox.analysisspec import ProviderFor
from gitops_release.sandbox.clock import Clock, rfc3339
from gitops_release.sandbox.health import resource_health
from gitops_release.sandbox.kube import api_group, new_uid
from gitops_release.sandbox.metricproviders import (
    Measured,
    measurement_key,
    provider_for,
    taken_from,
)
from gitops_release.sandbox.replicaset import HASH_LABEL, ImagePolicy, ReplicaSet, Timing
from gitops_release.sandbox.rollout import Rollout
from gitops_release.sandbox.rolloutanalysis import run_object

Key = tuple[str, str, str, str]  # group, kind, namespace, name

MANAGED_BY = "argo-rollouts.argoproj.io/managed-by-rollouts"
_HOST = re.compile(r"Host\(\s*`([^`]+)`")


def key_of(obj: dict[str, Any], namespace: str) -> Key:
    group, _ = api_group(str(obj.get("apiVersion", "")))
    meta = obj.get("metadata") or {}
    return (
        group,
        str(obj.get("kind", "")),
        str(meta.get("namespace") or namespace),
        str(meta.get("name", "")),
    )


@dataclass
class Live:
    manifest: dict[str, Any]
    uid: str
    created: float
    app: str
    resource_version: int


class Cluster:
    def __init__(
        self,
        clock: Clock,
        timing: Timing,
        policy: ImagePolicy,
        providers: ProviderFor = provider_for,
    ) -> None:
        self.clock, self.timing, self.policy = clock, timing, policy
        self.providers = providers
        self.objects: dict[Key, Live] = {}
        self.rollouts: dict[tuple[str, str], Rollout] = {}
        self.version = 1

    def bump(self) -> int:
        self.version += 1
        return self.version

    # writes ------------------------------------------------------------------------------
    def apply(self, obj: dict[str, Any], *, namespace: str, app: str) -> str:
        """kubectl apply; returns created, configured or unchanged."""
        key = key_of(obj, namespace)
        group, kind, ns, name = key
        manifest = copy.deepcopy(obj)
        manifest.setdefault("metadata", {})["namespace"] = ns
        live = self.objects.get(key)
        if kind == "Rollout" and group == "argoproj.io":
            rollout = self.rollouts.get((ns, name))
            if rollout is None:
                self.rollouts[(ns, name)] = rollout = Rollout(
                    manifest, namespace=ns, clock=self.clock, timing=self.timing
                )
                rollout.templates = self.template
                rollout.reconcile(self.policy)
            else:
                before = rollout.generation
                rollout.apply(manifest)
                if rollout.generation == before:
                    return "unchanged"
        if live is None:
            self.objects[key] = Live(manifest, new_uid(), self.clock.seconds(), app, self.bump())
            return "created"
        if live.manifest == manifest:
            return "unchanged"
        live.manifest, live.app, live.resource_version = manifest, app, self.bump()
        return "configured"

    def delete(self, key: Key) -> None:
        self.objects.pop(key, None)
        if key[1] == "Rollout":
            self.rollouts.pop((key[2], key[3]), None)
        self.bump()

    def reconcile(self, measured: Measured | None = None) -> None:
        """One pass of each controller: the analysis controller records the measurements taken
        for the runs due (``measured``, from :meth:`measure`; one due without is in flight
        until a later pass brings it), then the Rollouts controller reads their phases."""
        now = self.clock.seconds()
        providers = taken_from(measured if measured is not None else {}, self.providers)
        for rollout in self.rollouts.values():
            for run in list(rollout.analysis_runs.values()):
                reconcile_analysis_run(run, providers, now)
            rollout.reconcile(self.policy)

    def due_measurements(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(a copy of the run, the resolved metric) for each measurement the next pass wants:
        read under the sandbox's lock, measured outside it."""
        now = self.clock.seconds()
        return [
            (copy.deepcopy(run), metric)
            for rollout in self.rollouts.values()
            for run in rollout.analysis_runs.values()
            for metric in due_measurements(run, now)
        ]

    def measure(self, due: list[tuple[dict[str, Any], dict[str, Any]]], now: float) -> Measured:
        """Take the measurements over real HTTP (called without the sandbox's lock)."""
        measured: Measured = {}
        for run, metric in due:
            try:
                provider = self.providers(metric)
            except ValueError:
                continue  # the pass errors the metric itself
            measured[measurement_key(run, metric)] = provider.run(run, metric, now)
        return measured

    def template(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The live (Cluster)AnalysisTemplate the Rollouts controller's lister would return."""
        for (group, obj_kind, ns, obj_name), live in self.objects.items():
            if group != "argoproj.io" or obj_kind != kind or obj_name != name:
                continue
            if kind == "ClusterAnalysisTemplate" or ns == namespace:
                return live.manifest
        return None

    def analysis_run(self, namespace: str, name: str) -> tuple[Rollout, dict[str, Any]] | None:
        for (ns, _), rollout in self.rollouts.items():
            if ns == namespace and name in rollout.analysis_runs:
                return rollout, rollout.analysis_runs[name]
        return None

    # reads -------------------------------------------------------------------------------
    def rollout(self, namespace: str, name: str) -> Rollout | None:
        return self.rollouts.get((namespace, name))

    def live_object(self, key: Key) -> dict[str, Any] | None:
        """The object as ``kubectl get -o json`` shows it (status included)."""
        group, kind, ns, name = key
        if kind == "AnalysisRun" and group == "argoproj.io":
            found = self.analysis_run(ns, name)
            return run_object(found[1], self.clock, str(self.version)) if found else None
        live = self.objects.get(key)
        if live is None:
            return None
        if kind == "Rollout" and group == "argoproj.io" and (ns, name) in self.rollouts:
            obj = self.rollouts[(ns, name)].to_object(str(self.version))
            obj["metadata"]["uid"] = live.uid
            return obj
        obj = copy.deepcopy(live.manifest)
        meta = obj.setdefault("metadata", {})
        meta.update(
            uid=live.uid,
            resourceVersion=str(live.resource_version),
            creationTimestamp=rfc3339(self.clock.at(live.created)),
        )
        if kind == "Service" and group == "":
            for (rollout_ns, _), rollout in self.rollouts.items():
                pod_hash = rollout.service_hash(name) if rollout_ns == ns else None
                if pod_hash:  # switched by the controller (switchServiceSelector)
                    obj.setdefault("spec", {}).setdefault("selector", {})[HASH_LABEL] = pod_hash
                    annotations = meta.setdefault("annotations", {})
                    annotations[MANAGED_BY] = rollout.name
        return obj

    def health(self, key: Key) -> dict[str, str] | None:
        obj = self.live_object(key)
        if obj is None:
            return {"status": "Missing", "message": ""}
        return resource_health(key[1], key[0], obj)

    def _service_target(self, namespace: str, service: str) -> ReplicaSet | None:
        for (ns, _), rollout in self.rollouts.items():
            if ns == namespace:
                rs = rollout.selected(service)
                if rs is not None:
                    return rs
        return None

    def tree_nodes(self, app: str) -> list[dict[str, Any]]:
        """Argo CD's resource tree for an app: its objects, plus ReplicaSets and Pods of Rollouts."""
        now = self.clock.seconds()
        nodes: list[dict[str, Any]] = []
        for key, live in sorted(self.objects.items()):
            if live.app != app:
                continue
            group, kind, ns, name = key
            obj = self.live_object(key) or {}
            node = _node(obj, group, kind, ns, name, live.uid)
            node["createdAt"] = rfc3339(self.clock.at(live.created))
            health = resource_health(kind, group, obj)
            if health is not None:
                node["health"] = _health_wire(health)
            if kind == "Service":
                node["networkingInfo"] = {
                    "targetLabels": (obj.get("spec") or {}).get("selector") or {}
                }
            if kind == "IngressRoute":
                node["networkingInfo"] = {"externalURLs": [f"http://{h}/" for h in _hosts(obj)]}
            nodes.append(node)
            rollout = self.rollouts.get((ns, name)) if kind == "Rollout" else None
            if rollout is None:
                continue
            parent = {"group": group, "kind": kind, "namespace": ns, "name": name, "uid": live.uid}
            ro_obj = rollout.to_object(str(self.version))
            for run in rollout.analysis_runs.values():
                run_obj = run_object(run, self.clock, str(self.version))
                run_node = _node(
                    run_obj,
                    group,
                    "AnalysisRun",
                    ns,
                    run_obj["metadata"]["name"],
                    run_obj["metadata"]["uid"],
                )
                run_node.update(
                    parentRefs=[parent],
                    health=_health_wire(resource_health("AnalysisRun", group, run_obj) or {}),
                    createdAt=run_obj["metadata"]["creationTimestamp"],
                )
                nodes.append(run_node)
            for rs in rollout.replicasets:
                rs_obj = rs.to_object(ro_obj, now, self.clock, self.timing)
                rs_node = _node(rs_obj, "apps", "ReplicaSet", ns, rs.name, rs.uid)
                rs_node.update(
                    parentRefs=[parent],
                    info=[{"name": "Revision", "value": f"Rev:{rs.revision}"}],
                    health=_health_wire(resource_health("ReplicaSet", "apps", rs_obj) or {}),
                    createdAt=rs_obj["metadata"]["creationTimestamp"],
                )
                nodes.append(rs_node)
                rs_parent = {
                    "group": "apps",
                    "kind": "ReplicaSet",
                    "namespace": ns,
                    "name": rs.name,
                    "uid": rs.uid,
                }
                for pod in rs.pod_objects(ns, now, self.clock, self.timing):
                    cs = pod["status"]["containerStatuses"][0]
                    shown = (
                        "Running" if "running" in cs["state"] else cs["state"]["waiting"]["reason"]
                    )
                    pod_node = _node(
                        pod, "", "Pod", ns, pod["metadata"]["name"], pod["metadata"]["uid"]
                    )
                    pod_node.update(
                        parentRefs=[rs_parent],
                        info=[
                            {"name": "Status Reason", "value": shown},
                            {"name": "Node", "value": "sandbox"},
                            {"name": "Containers", "value": f"{int(cs['ready'])}/1"},
                        ]
                        + (
                            [{"name": "Restart Count", "value": str(cs["restartCount"])}]
                            if cs["restartCount"]
                            else []
                        ),
                        health=_health_wire(resource_health("Pod", "", pod) or {}),
                        images=[cs["image"]],
                        createdAt=pod["metadata"]["creationTimestamp"],
                    )
                    nodes.append(pod_node)
        return nodes

    # ingress -----------------------------------------------------------------------------
    def route(self, host: str) -> tuple[ReplicaSet | None, bool]:
        """The ReplicaSet behind ``host`` per the Traefik IngressRoutes (or plain Ingresses), and
        whether any route matched."""
        host = host.split(":")[0].lower()
        for (group, kind, ns, _), live in self.objects.items():
            if kind == "Ingress" and group == "networking.k8s.io":
                for rule in (live.manifest.get("spec") or {}).get("rules") or []:
                    if str(rule.get("host", "")).lower() != host:
                        continue
                    for path in (rule.get("http") or {}).get("paths") or []:
                        service = ((path.get("backend") or {}).get("service") or {}).get("name")
                        return self._service_target(ns, str(service)), True
                continue
            if kind != "IngressRoute" or not group.startswith("traefik."):
                continue
            for route in (live.manifest.get("spec") or {}).get("routes") or []:
                if host not in [h.lower() for h in _HOST.findall(str(route.get("match", "")))]:
                    continue
                for service in route.get("services") or []:
                    return self._service_target(
                        str(service.get("namespace") or ns), str(service.get("name"))
                    ), True
        return None, False


def _hosts(obj: dict[str, Any]) -> list[str]:
    return [
        h
        for r in (obj.get("spec") or {}).get("routes") or []
        for h in _HOST.findall(str(r.get("match", "")))
    ]


def _node(
    obj: dict[str, Any], group: str, kind: str, ns: str, name: str, uid: str
) -> dict[str, Any]:
    version = api_group(str(obj.get("apiVersion", "v1")))[1]
    node: dict[str, Any] = {
        "version": version,
        "kind": kind,
        "namespace": ns,
        "name": name,
        "uid": uid,
    }
    if group:
        node["group"] = group
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    if rv:
        node["resourceVersion"] = str(rv)
    return node


def _health_wire(health: dict[str, str]) -> dict[str, str]:
    out = {"status": health.get("status", "Unknown")}
    if health.get("message"):
        out["message"] = health["message"]
    return out
