"""Argo CD's watch streams: applications (JSON lines, or SSE with ``Accept: text/event-stream``)
and the resource tree. A missing app keeps the stream silent; identical consecutive payloads are
dropped, as the real forwarder does; a ``drop-stream`` fault cuts the stream without its end."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from gitops_release.sandbox.wire import Handler, route

if TYPE_CHECKING:
    from gitops_release.sandbox.server import Sandbox


class ArgoCDStreams(Handler):
    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox  # type: ignore[attr-defined,no-any-return]

    def authenticate(self) -> None:
        raise NotImplementedError  # ArgoCDHandler's

    # streams -----------------------------------------------------------------------------
    @route("GET", "/api/v1/stream/applications")
    def watch(self) -> None:
        self.authenticate()
        names = set(self.query.get("name") or [])
        since = int(self.q("resourceVersion") or 0)
        sse = self.start_stream()
        sent: dict[str, str] = {}
        drop_after = self.sandbox.faults.take_stream_drop()
        count, last_write = 0, time.monotonic()
        while self.sandbox.running:
            with self.sandbox.lock:
                events = []
                for n, app in sorted(self.sandbox.apps.apps.items()):
                    if (names and n not in names) or app.stamp < since:
                        continue
                    view = self.sandbox.apps.view(app)
                    payload = json.dumps(view, sort_keys=True)
                    if sent.get(n) != payload:  # the forwarder drops identical payloads
                        events.append(("ADDED" if n not in sent else "MODIFIED", view))
                        sent[n] = payload
                for n in [n for n in sent if n not in self.sandbox.apps.apps]:
                    events.append(("DELETED", {"metadata": {"name": n, "namespace": "argocd"}}))
                    del sent[n]
            try:
                for kind, view in events:
                    self.stream_message({"result": {"type": kind, "application": view}}, sse)
                    count += 1
                    last_write = time.monotonic()
                    if drop_after is not None and count >= drop_after:
                        self.close_connection = True
                        return  # fault injection: cut without the closing chunk
                if sse and time.monotonic() - last_write > 15:
                    self.chunk(b":\n")
                    last_write = time.monotonic()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
            with self.sandbox.lock:
                self.sandbox.lock.wait(timeout=0.5)
        self.end_stream()

    @route("GET", "/api/v1/stream/applications/{name}/resource-tree")
    def watch_tree(self, name: str) -> None:
        """The whole tree each time it changes (nothing at all for a missing app)."""
        self.authenticate()
        sse = self.start_stream()
        last = ""
        while self.sandbox.running:
            with self.sandbox.lock:
                app = self.sandbox.apps.apps.get(name)
                tree = {"nodes": self.sandbox.cluster.tree_nodes(name)} if app else None
            text = json.dumps(tree, sort_keys=True)
            try:
                if tree is not None and text != last:
                    last = text
                    self.stream_message({"result": tree}, sse)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
            with self.sandbox.lock:
                self.sandbox.lock.wait(timeout=0.5)
        self.end_stream()
