"""``status --watch``: follow Argo CD's watch streams, show each change as it happens.

Two streams feed the view, like the Argo CD UI: ``GET /api/v1/stream/applications?name=APP`` (sync,
health, operation) and ``GET /api/v1/stream/applications/APP/resource-tree`` (the Rollout, its
ReplicaSets and Pods, each with its resourceVersion). Each stream is read by a thread into one
queue; the view is rebuilt from the newest app and tree, and a live object (the Rollout, a
ReplicaSet, an IngressRoute) is read again only when its tree node, or a parent or child of it,
moved (resourceVersion, health, info). So a quiet minute costs no request, and a change costs a
read of the objects around it.

A stream that ends is reopened (at once after a long quiet spell, with backoff when it closes
quickly); one the server does not serve, or that keeps closing, gives way to polling, as
:mod:`gitops_release.argo.wait` does. ``--via dashboard`` polls the dashboard.

In a terminal the view is redrawn in place (cursor home, lines overwritten, the rest cleared:
no blank frame, so no flicker) and ages tick every second; Ctrl-C shows the cursor again and
leaves the last view on screen. In a log the first view is printed whole, then each change as a
timestamped block of the lines that changed.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gitops_release.argo.client import ArgoCD
from gitops_release.argo.connection import Connection
from gitops_release.argo.model import Application, ResourceRef, ResourceTree, TreeNode
from gitops_release.argo.types import Via
from gitops_release.errors import TimedOut
from gitops_release.output import Output, color_enabled, redact
from gitops_release.views.gather import needs_tree, status_view, view_of
from gitops_release.views.render import AppView, colorize, render_status, status_json

STREAM_IDLE = 60.0
"""Reopen a stream silent for this long (the newline stream has no keep-alives)."""
POLL = 2.0
"""Poll interval when the streams are not available."""
TICK = 1.0
"""How often a terminal view is redrawn for its ages and delays (no request)."""
BACKOFF = (0.5, 8.0)
"""Reopening a stream that closed quickly: first and longest wait (doubling, with jitter)."""
QUICK_CLOSES = 3
"""Closed this many times in a row without a word: the streams give way to polling."""


class LiveReads(ArgoCD):
    """The Argo CD reads of one view, remembered by the resourceVersion of each object's tree node:
    a live object is read again only when its node (or a parent or child) moved."""

    def __init__(self, api: ArgoCD) -> None:
        super().__init__(
            api.client,
            project=api.project,
            app_namespace=api.app_namespace,
            default_project=api.default_project,
        )
        self.tree = ResourceTree()
        self._objects: dict[tuple[str, str, str], tuple[object, dict[str, Any]]] = {}

    def _fingerprint(self, ref: ResourceRef) -> object:
        """What the tree says about the object and its parents and children: its resourceVersion,
        and, for servers that do not move it on status writes, health, info and images too."""
        node = next(
            (
                n
                for n in self.tree.nodes
                if n.kind == ref.kind
                and n.name == ref.name
                and (not ref.namespace or not n.namespace or n.namespace == ref.namespace)
            ),
            None,
        )
        if node is None:
            return None
        related = [n for n in self.tree.nodes if n.uid in node.parents or node.uid in n.parents]
        return [_own(node), *sorted(_own(n) for n in related)]

    def live_object(self, name: str, ref: ResourceRef) -> dict[str, Any]:
        key = (ref.kind, ref.namespace, ref.name)
        fingerprint = self._fingerprint(ref)
        known = self._objects.get(key)
        if fingerprint is not None and known is not None and known[0] == fingerprint:
            return known[1]
        obj = super().live_object(name, ref)
        self._objects[key] = (fingerprint, obj)
        return obj


def _own(node: TreeNode) -> tuple[str, ...]:
    info = (f"{k}={v}" for k, v in sorted(node.info.items()))
    return (node.name, node.resource_version, node.health, node.health_message, *info, *node.images)


@dataclass
class StreamEvent:
    source: str
    """``app`` or ``tree``; ``failed`` when the streams give way to polling."""
    value: Any = None


@dataclass
class Streams:
    """The two watch streams, each read by a daemon thread into ``events``."""

    argocd: ArgoCD
    name: str
    events: queue.Queue[StreamEvent] = field(default_factory=queue.Queue)
    stop: threading.Event = field(default_factory=threading.Event)
    idle: float = STREAM_IDLE
    clock: Callable[[], float] = time.monotonic

    def start(self) -> None:
        for source, read in (("app", self._apps), ("tree", self._trees)):
            thread = threading.Thread(
                target=self._follow, args=(source, read), name=f"watch-{source}", daemon=True
            )
            thread.start()

    def _apps(self) -> Iterator[Any]:
        return self.argocd.watch(self.name, read_timeout=self.idle)

    def _trees(self) -> Iterator[Any]:
        for result in self.argocd.client.stream(
            f"/api/v1/stream/applications/{self.name}/resource-tree",
            params={"appNamespace": self.argocd.app_namespace},
            read_timeout=self.idle,
        ):
            if isinstance(result, dict):
                yield ResourceTree.from_json(result)

    def _follow(self, source: str, read: Callable[[], Iterator[Any]]) -> None:
        quick, wait = 0, BACKOFF[0]
        while not self.stop.is_set():
            opened, got_any = self.clock(), False
            try:
                for value in read():
                    got_any = True
                    self.events.put(StreamEvent(source, value))
                    if self.stop.is_set():
                        return
            except Exception as err:  # the stream is an optimisation: polling takes over
                self.events.put(StreamEvent("failed", f"{source} stream unavailable ({err})"))
                return
            if got_any or self.clock() - opened >= self.idle / 2:
                quick, wait = 0, BACKOFF[0]  # a quiet spell, not a failing stream
                continue
            quick += 1
            if quick >= QUICK_CLOSES:
                self.events.put(StreamEvent("failed", f"{source} stream keeps closing"))
                return
            self.stop.wait(wait * random.uniform(0.8, 1.2))
            wait = min(wait * 2, BACKOFF[1])


@dataclass
class Screen:
    """Where views go: redrawn in place on a terminal, changed lines in a log, JSON documents."""

    out: Output
    now: Callable[[], dt.datetime]
    tty: bool = False
    color: bool = False
    printed: int = 0
    _view: AppView | None = None
    _key: str = ""

    def tick(self) -> None:
        """Redraw the last view on a terminal: its ages and delays move with the clock."""
        if self.tty and self._view is not None:
            self._draw(render_status(self._view, self.now()))

    def show(self, view: AppView) -> None:
        data = status_json(view)
        key = json.dumps({**data, "reconciled_at": ""}, sort_keys=True)  # not a change
        if key == self._key:
            return
        now = self.now()
        if self.out.json_mode:
            self.out.data(data)
        elif self.tty:
            self._draw(render_status(view, now))
        elif self._view is None:
            self.out.result(render_status(view, now).rstrip("\n"))
        else:
            # compared without alignment: a wider column elsewhere is not a change of this row
            before = {
                " ".join(line.split()) for line in render_status(self._view, now).splitlines()
            }
            lines = [
                line
                for line in render_status(view, now).splitlines()
                if " ".join(line.split()) not in before
            ]
            self.out.result("\n".join(["", f"--- {now:%H:%M:%S} changed:", *lines]))
        self._view, self._key = view, key
        self.printed += 1

    def _draw(self, text: str) -> None:
        if self.color:
            text = colorize(text)
        lines = redact(text.rstrip("\n")).split("\n")
        start = "\033[?25l\033[H\033[2J" if not self.printed else "\033[H"  # clear once only
        body = "".join(f"{line}\033[K\n" for line in lines)
        self.out.out.write(f"{start}{body}\033[J")
        self.out.out.flush()

    def close(self) -> None:
        if self.tty and self.printed:
            self.out.out.write("\033[?25h")  # the cursor back, the last view left on screen
            self.out.out.flush()


def watch_status(
    conn: Connection,
    name: str,
    *,
    out: Output,
    rollout: str | None = None,
    via: Via = Via.argocd,
    namespace: str | None = None,
    duration: float | None = None,
) -> int:
    """Show the status of ``name`` and each change until Ctrl-C, or for ``duration`` seconds.
    Returns the number of views shown."""
    tty = bool(getattr(out.out, "isatty", lambda: False)()) and not out.json_mode
    screen = Screen(out, conn.now, tty=tty, color=tty and color_enabled(out.out))
    deadline = None if duration is None else time.monotonic() + duration
    try:
        if via is Via.argocd:
            _follow(conn, name, screen, rollout=rollout, deadline=deadline)
        else:
            _poll(
                conn, name, screen, rollout=rollout, via=via, namespace=namespace, deadline=deadline
            )
    except TimedOut:  # --timeout fell inside a call: the watch is over, as asked
        pass
    finally:
        screen.close()
    return screen.printed


def _left(deadline: float | None, most: float) -> float:
    return most if deadline is None else max(0.0, min(most, deadline - time.monotonic()))


def _follow(
    conn: Connection, name: str, screen: Screen, *, rollout: str | None, deadline: float | None
) -> None:
    reads = LiveReads(conn.argocd())
    app = reads.get_app(name)  # first: a missing app keeps the stream silent
    tree = reads.resource_tree(name) if needs_tree(app, rollout) else None
    reads.tree = tree or ResourceTree()
    screen.show(view_of(reads, app, tree, rollout=rollout))
    streams = Streams(reads, name)
    streams.start()
    try:
        while deadline is None or time.monotonic() < deadline:
            try:
                events = [streams.events.get(timeout=_left(deadline, TICK))]
            except queue.Empty:
                screen.tick()
                continue
            while not streams.events.empty():  # a burst becomes one redraw
                events.append(streams.events.get_nowait())
            for event in events:
                if event.source == "failed":
                    screen.out.progress(f"{event.value}; polling every {POLL:.0f}s")
                    streams.stop.set()
                    _poll(conn, name, screen, rollout=rollout, deadline=deadline)
                    return
                if event.source == "app" and isinstance(event.value, Application):
                    app = event.value
                elif event.source == "tree" and isinstance(event.value, ResourceTree):
                    tree = reads.tree = event.value
            if not needs_tree(app, rollout):
                screen.show(view_of(reads, app, None, rollout=rollout))
                continue
            if tree is None:
                tree = reads.tree = reads.resource_tree(name)
            screen.show(view_of(reads, app, tree, rollout=rollout))
    finally:
        streams.stop.set()


def _poll(
    conn: Connection,
    name: str,
    screen: Screen,
    *,
    rollout: str | None,
    via: Via = Via.argocd,
    namespace: str | None = None,
    deadline: float | None,
) -> None:
    while True:
        screen.show(status_view(conn, name, rollout=rollout, via=via, namespace=namespace))
        if deadline is not None and time.monotonic() >= deadline:
            return
        conn.sleep(_left(deadline, POLL))
