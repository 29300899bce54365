"""A local Argo CD + Argo Rollouts + Traefik that speaks the real APIs (DESIGN.md section 6).

This package is the other side of the wire: it shares no code with the client modules
(argo/, git/, yaml/) and keeps its own small adapters
(``gitsource`` for git, ``manifests`` for YAML, ``wire`` for HTTP). See ``README.md`` here for
what it serves, how faithful it is, and the pytest fixture; ``server.Sandbox`` is the entry point.

Modules by noun: ``server`` (composition, threads), ``clock`` (scaled controller time),
``rollout``/``rolloutstatus``/``replicaset`` (the blue-green controller), ``health`` (Argo CD's
Rollout health check, ported), ``cluster`` (live objects, Services, routing), ``applications``/
``operations``/``appstate`` (the Argo CD application controller), ``argocd_api``/
``argocd_streams``/``actions``/``auth`` (the Argo CD API), ``rollouts_api``/``rolloutinfo``
(the dashboard API), ``ingress``, ``control`` (faults), ``gitserver`` (smart-HTTP git),
``runner``/``demo`` (``sandbox up`` and ``sandbox demo``).
"""
