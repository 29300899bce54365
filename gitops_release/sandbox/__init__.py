"""A local Argo CD + Argo Rollouts + Traefik that speaks the real APIs (DESIGN.md section 6).

This package is the other side of the wire: it shares no code with the client modules
(argocd, rollouts, wait, yamledit, gitrepo, http) and keeps its own small adapters.
"""
