"""The ingress: routes by ``Host`` like the app's Traefik IngressRoutes (prod host -> active
ReplicaSet, test host -> preview) and answers like the guide's demo image ``ikubernetes/myapp``.
No route: 404 ``404 page not found``; no ready pod behind it: 503 ``no available server``.
Every answer a pod gives is counted for its ``/metrics`` (:mod:`.podmetrics`), with the image's
faults (a share of 500s, a delay) applied first.
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING

from gitops_release.sandbox.wire import Handler

if TYPE_CHECKING:
    from gitops_release.sandbox.server import Sandbox

_counter = itertools.count()


def version_of(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


class IngressHandler(Handler):
    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        self._body = None
        host = self.headers.get("Host") or ""
        sb = self.sandbox
        with sb.lock:
            rs, matched = sb.cluster.route(host)
            now = sb.clock.seconds()
            pods = rs.ready_pods(now, sb.cluster.timing) if rs is not None else []
            namespace = next(
                (ns for (ns, _), ro in sb.cluster.rollouts.items() if rs in ro.replicasets), ""
            )
        if not matched:
            self.text(404, "404 page not found\n")
            return
        if rs is None or not pods:
            self.text(503, "no available server\n")
            return
        pod = pods[next(_counter) % len(pods)]
        started = time.monotonic()
        fails, delay = sb.faults.http_answer(pod.image, pod.failing == "http-500")
        if delay:
            # controller seconds at the sandbox's pace, but never longer than the delay says
            # (a stepped sandbox's controller second lasts for ever)
            time.sleep(min(sb.clock.wall(delay), delay))
        version = version_of(pod.image)
        code = 500 if fails else 200
        # counted before the answer goes out: a scrape right after the answer must see it
        took = delay + time.monotonic() - started
        sb.pod_metrics.observe((namespace, pod.name, rs.hash, version), code, took)
        if fails:
            self.text(500, "Internal Server Error\n", "text/html")
        elif self.url.path.rstrip("/") == "/hostname.html":
            self.text(200, pod.name + "\n", "text/html")
        else:
            self.text(
                200,
                f'Hello MyApp | Version: {version} | <a href="hostname.html">Pod Name</a>\n',
                "text/html",
            )
