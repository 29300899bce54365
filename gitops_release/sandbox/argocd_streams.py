"""Argo CD's watch streams: applications (JSON lines, or SSE with ``Accept: text/event-stream``)
and the resource tree. A missing app keeps the stream silent; identical consecutive payloads are
dropped, as the real forwarder does; a ``drop-stream`` fault cuts the stream without its end."""

from __future__ import annotations

import copy
import json
import time
from typing import TYPE_CHECKING, Any

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
        fields = [f for f in self.q("fields").split(",") if f]
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
                    kind = "ADDED" if n not in sent else "MODIFIED"
                    message = filter_fields(
                        {"result": {"type": kind, "application": self.sandbox.apps.view(app)}},
                        fields,
                    )
                    body = json.dumps(message["result"].get("application"), sort_keys=True)
                    if sent.get(n) != body:  # the forwarder drops identical payloads
                        events.append(message)
                        sent[n] = body
                for n in [n for n in sent if n not in self.sandbox.apps.apps]:
                    gone = {"metadata": {"name": n, "namespace": "argocd"}}
                    events.append({"result": {"type": "DELETED", "application": gone}})
                    del sent[n]
            try:
                for message in events:
                    self.stream_message(message, sse)
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


def filter_fields(payload: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The forwarder's ``?fields=``: keep only the dotted paths (from ``result``), or with a
    leading ``-`` drop them. Lists are traversed element by element."""
    if not fields:
        return payload
    exclude = fields[0].startswith("-")
    paths = [f.lstrip("-").split(".") for f in fields]
    if exclude:
        out = copy.deepcopy(payload)
        for path in paths:
            _drop(out, path)
        return out
    kept: dict[str, Any] = {}
    for path in paths:
        _keep(payload, kept, path)
    return kept


def _drop(node: Any, path: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _drop(item, path)
    elif isinstance(node, dict) and path:
        if len(path) == 1:
            node.pop(path[0], None)
        elif path[0] in node:
            _drop(node[path[0]], path[1:])


def _keep(source: Any, target: dict[str, Any], path: list[str]) -> None:
    if not isinstance(source, dict) or path[0] not in source:
        return
    value = source[path[0]]
    if len(path) == 1:
        target[path[0]] = copy.deepcopy(value)
    elif isinstance(value, dict):
        _keep(value, target.setdefault(path[0], {}), path[1:])
    elif isinstance(value, list):
        items = target.setdefault(path[0], [{} for _ in value])
        for src, dst in zip(value, items, strict=False):
            _keep(src, dst, path[1:])
