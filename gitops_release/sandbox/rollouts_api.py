"""The Argo Rollouts dashboard API (v1.9+ layout, under ``/rollouts/api/v1``).

No auth (like the real one). Errors are HTTP 500 ``{"code":2,"message":...}`` even for not
found; unknown routes under the prefix are 501. ``undo`` never answers upstream
(argo-rollouts#4956): the change is applied, then the request is held open for a bounded time
and the connection closed without a reply.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

from gitops_release.sandbox.rollout import Rollout, RolloutError
from gitops_release.sandbox.rolloutinfo import rollout_info
from gitops_release.sandbox.wire import Handler, route

if TYPE_CHECKING:
    from gitops_release.sandbox.server import Sandbox

VERSION = "v1.9.0+sandbox"
R = "/rollouts/api/v1"
UNDO_HOLD_SECONDS = 30.0  # wall seconds an undo request is held open before hanging up


class RolloutsHandler(Handler):
    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox  # type: ignore[attr-defined,no-any-return]

    def error(self, message: str, code: int = 2, status: int = 500) -> None:
        self.json(status, {"code": code, "message": message})

    def _rollout(self, ns: str, name: str) -> Rollout | None:
        rollout = self.sandbox.cluster.rollout(ns, name)
        if rollout is None:
            self.error(f'rollouts.argoproj.io "{name}" not found')
        return rollout

    @route("GET", R + "/version")
    def version(self) -> None:
        self.json(200, {"rolloutsVersion": VERSION})

    @route("GET", R + "/namespace")
    def namespace(self) -> None:
        with self.sandbox.lock:
            spaces = sorted({ns for ns, _ in self.sandbox.cluster.rollouts})
        self.json(200, {"namespace": "default", "availableNamespaces": spaces or ["default"]})

    @route("GET", R + "/rollouts/{ns}/info")
    def list_info(self, ns: str) -> None:
        with self.sandbox.lock:
            infos = [
                rollout_info(r, str(self.sandbox.cluster.version))
                for (n, _), r in sorted(self.sandbox.cluster.rollouts.items())
                if n == ns
            ]
        self.json(200, {"rollouts": infos} if infos else {})

    @route("GET", R + "/rollouts/{ns}/info/watch")
    def watch_list(self, ns: str) -> None:
        sse = self.start_stream()
        sent: dict[str, str] = {}
        while self.sandbox.running:
            with self.sandbox.lock:
                infos = [
                    rollout_info(r, str(self.sandbox.cluster.version))
                    for (n, _), r in sorted(self.sandbox.cluster.rollouts.items())
                    if n == ns
                ]
            try:
                for info in infos:
                    key = str(info["objectMeta"]["name"])
                    text = repr(info)
                    if sent.get(key) != text:
                        sent[key] = text
                        self.stream_message(
                            {"result": {"type": "Updated", "rolloutInfo": info}}, sse
                        )
            except (BrokenPipeError, ConnectionResetError):
                return
            with self.sandbox.lock:
                self.sandbox.lock.wait(timeout=0.5)
        self.end_stream()

    @route("GET", R + "/rollouts/{ns}/{name}/info")
    def info(self, ns: str, name: str) -> None:
        with self.sandbox.lock:
            rollout = self._rollout(ns, name)
            if rollout is not None:
                self.json(200, rollout_info(rollout, str(self.sandbox.cluster.version)))

    @route("GET", R + "/rollouts/{ns}/{name}/info/watch")
    def watch(self, ns: str, name: str) -> None:
        with self.sandbox.lock:
            if self._rollout(ns, name) is None:
                return
        sse = self.start_stream()
        while self.sandbox.running:
            with self.sandbox.lock:
                rollout = self.sandbox.cluster.rollout(ns, name)
                info = rollout_info(rollout, str(self.sandbox.cluster.version)) if rollout else None
            if info is None:
                break
            try:  # re-sent about every second even when unchanged: a heartbeat
                self.stream_message({"result": info}, sse)
            except (BrokenPipeError, ConnectionResetError):
                return
            time.sleep(1.0)
        self.end_stream()

    def _mutate(self, ns: str, name: str, verb: str) -> None:
        body = self.json_object()
        with self.sandbox.lock:
            rollout = self._rollout(ns, name)
            if rollout is None:
                return
            if verb == "promote":
                rollout.promote(full=bool(body.get("full")))
            elif verb == "abort":
                rollout.abort()
            elif verb == "retry":
                rollout.retry()
            elif verb == "restart":
                rollout.restart()
            self.sandbox.kick()
            obj = rollout.to_object(str(self.sandbox.cluster.version))
            # a typed clientset result: TypeMeta is empty and omitted (as in the swagger)
            obj.pop("apiVersion")
            obj.pop("kind")
            self.json(200, obj)

    @route("PUT", R + "/rollouts/{ns}/{name}/promote")
    def promote(self, ns: str, name: str) -> None:
        self._mutate(ns, name, "promote")

    @route("PUT", R + "/rollouts/{ns}/{name}/abort")
    def abort(self, ns: str, name: str) -> None:
        self._mutate(ns, name, "abort")

    @route("PUT", R + "/rollouts/{ns}/{name}/retry")
    def retry(self, ns: str, name: str) -> None:
        self._mutate(ns, name, "retry")

    @route("PUT", R + "/rollouts/{ns}/{name}/restart")
    def restart(self, ns: str, name: str) -> None:
        self._mutate(ns, name, "restart")

    @route("PUT", R + "/rollouts/{ns}/{name}/undo/{revision}")
    def undo(self, ns: str, name: str, revision: str) -> None:
        self.json_body()
        with self.sandbox.lock:
            rollout = self._rollout(ns, name)
            if rollout is None:
                return
            try:
                rollout.undo(int(revision))
            except (RolloutError, ValueError) as err:
                self.error(str(err))
                return
            self.sandbox.kick()
        self._hang()

    @route("PUT", R + "/rollouts/{ns}/{rollout}/set/{container}/{image}/{tag}")
    def set_image(self, ns: str, rollout: str, container: str, image: str, tag: str) -> None:
        self.json_body()
        with self.sandbox.lock:
            found = self._rollout(ns, rollout)
            if found is None:
                return
            template = copy.deepcopy(found.spec.get("template") or {})
            containers = (template.get("spec") or {}).get("containers") or []
            target = [c for c in containers if c.get("name") == container]
            if not target:
                self.error(f"unable to find container named {container!r}")
                return
            target[0]["image"] = f"{image}:{tag}"
            found.set_template(template)
            self.sandbox.kick()
        self._hang()

    def _hang(self) -> None:
        """The real server applies the change, then never answers (argo-rollouts#4956)."""
        deadline = time.monotonic() + UNDO_HOLD_SECONDS
        while self.sandbox.running and time.monotonic() < deadline:
            time.sleep(0.05)
        self.close_connection = True

    def unmatched(self, path: str, other_verb: bool) -> None:
        self.error("Not Implemented", code=12, status=501)
