"""The app's prod and preview URLs, from its live Traefik IngressRoutes (read through Argo CD)."""

from __future__ import annotations

import re

from gitops_release.argo.client import ArgoCD
from gitops_release.argo.model import Application, ResourceRef, Rollout
from gitops_release.errors import RemoteError

_HOST = re.compile(r"Host\(\s*`([^`]+)`")


def urls(argocd: ArgoCD, app: Application, ro: Rollout | None) -> tuple[str, str]:
    """(prod URL, preview URL) from the app's IngressRoutes: the host routed to the active Service
    is prod, the one routed to the preview Service is preview."""
    prod = preview = ""
    for res in app.resources:
        if res.kind != "IngressRoute":
            continue
        ref = ResourceRef(
            "IngressRoute",
            res.name,
            res.namespace or app.dest_namespace,
            group=res.group or "traefik.io",
            version=res.version or "v1alpha1",
        )
        try:
            obj = argocd.live_object(app.name, ref)
        except RemoteError:
            continue
        spec = obj.get("spec") or {}
        scheme = "https" if spec.get("tls") else "http"
        for route in spec.get("routes") or []:
            hosts = _HOST.findall(str(route.get("match") or ""))
            services = {str(s.get("name")) for s in route.get("services") or []}
            if not hosts:
                continue
            url = f"{scheme}://{hosts[0]}"
            if ro is not None and ro.active_service in services:
                prod = prod or url
            elif ro is not None and ro.preview_service in services:
                preview = preview or url
            elif ro is None or not (ro.active_service or ro.preview_service):
                if "preview" in res.name or "test" in res.name:
                    preview = preview or url
                else:
                    prod = prod or url
    return prod, preview
