"""The sandbox process: Argo CD + Rollouts dashboard + control API on one port, the ingress on
another, the smart-HTTP git server on a third, and the controller loop, all in threads.

In-process use (tests)::

    with Sandbox(SandboxConfig(time_scale=0.01)) as sb:
        sb.argocd_url, sb.token, sb.git_url, sb.git_token, sb.ingress_url, sb.rollouts_url
        sb.fail_image("ikubernetes/myapp:v3")     # or the control API over HTTP
        sb.advance(30)                            # controller seconds
"""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import shlex
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from gitops_release.sandbox.applications import AppController
from gitops_release.sandbox.argocd_api import ACTIONS_API, ArgoCDHandler
from gitops_release.sandbox.auth import Auth
from gitops_release.sandbox.clock import Clock
from gitops_release.sandbox.cluster import Cluster, Key, key_of
from gitops_release.sandbox.control import IMAGE_MODES, C, ControlHandler, Faults
from gitops_release.sandbox.gitserver import GitServer
from gitops_release.sandbox.gitsource import GitSource
from gitops_release.sandbox.ingress import IngressHandler
from gitops_release.sandbox.metricproviders import Measured
from gitops_release.sandbox.podmetrics import PodMetrics
from gitops_release.sandbox.prometheus import METRICS_PATH, Prometheus
from gitops_release.sandbox.registry import LocalRegistry, Puller
from gitops_release.sandbox.replicaset import Timing
from gitops_release.sandbox.rollouts_api import R, RolloutsHandler
from gitops_release.sandbox.wire import GrpcError, collect_routes

# Run by git through sh as ``f get`` (also ``f store`` / ``f erase``, which it ignores).
GIT_CREDENTIAL_HELPER = (
    '!f() { test "$1" = get && echo username=sandbox && echo "password=$SANDBOX_GIT_TOKEN"; }; f'
)


class ApiHandler(ArgoCDHandler, RolloutsHandler, ControlHandler):
    """One port: Argo CD at /api, the Rollouts dashboard at /rollouts/api/v1, control at /sandbox."""

    def unmatched(self, path: str, other_verb: bool) -> None:
        if path.startswith("/rollouts/api/"):
            RolloutsHandler.unmatched(self, path, other_verb)
        else:
            ArgoCDHandler.unmatched(self, path, other_verb)

    def before(self, path: str) -> bool:
        return self.sandbox.faults.before(self, path)

    def grpc_error(self, err: GrpcError) -> None:
        if self.url.path.startswith("/rollouts/"):  # DefaultHTTPProtoErrorHandler: no "error" key
            self.json(err.http_status, {"code": err.code, "message": err.message})
        else:
            super().grpc_error(err)


ApiHandler.routes = collect_routes(ApiHandler)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    sandbox: Sandbox

    def record(self, verb: str, template: str) -> None:
        with self.sandbox.lock:
            self.sandbox.requests.append((verb, template))

    def log(self, line: str, level: str = "info") -> None:
        self.sandbox.log(line, level)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (a killed CLI, a cut watch) is not the server's
        # problem: no traceback on stderr, as a real Argo CD logs nothing for it either.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 0
    ingress_port: int = 0
    git_port: int = 0
    state_dir: Path | None = None
    time_scale: float = 1.0
    poll_seconds: float = 180.0  # Argo CD's timeout.reconciliation
    timing: Timing = field(default_factory=Timing)
    verbose: bool = False  # log to log_stream (stderr): requests, syncs, refused requests
    log_level: str = "info"  # one of LOG_LEVELS: debug adds one line per request answered
    log_stream: TextIO | None = None  # None: sys.stderr
    actions_api: str = "v2"  # which resource-action API to serve: see argocd_api.ACTIONS_API
    prometheus: bool = False  # start a real Prometheus scraping the pods (prometheus.py)
    registry: bool = False  # run docker-registry beside it; the cluster pulls by its tags


LOG_LEVELS = ("debug", "info", "warning", "error")
"""``debug``: every request answered (one line each); ``info``: syncs and operations, refused
requests (4xx/5xx), start-up; ``warning``: what needs a look (a TLS handshake on a plain port)."""


class Sandbox:
    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        if self.config.log_level not in LOG_LEVELS:
            raise ValueError(f"log level {self.config.log_level!r}: one of {', '.join(LOG_LEVELS)}")
        self.actions_api = "v2"
        self.set_actions_api(self.config.actions_api)
        self.clock = Clock(self.config.time_scale)
        self.lock = threading.Condition(threading.RLock())
        self._measuring = threading.Lock()  # one thread takes analysis measurements at a time
        self.faults = Faults()
        self.pod_metrics = PodMetrics()
        self.registry: LocalRegistry | None = None
        self.puller: Puller | None = None
        self.cluster = Cluster(self.clock, self.config.timing, self._image_policy)
        self._own_state = self.config.state_dir is None
        self.state_dir = Path(self.config.state_dir or tempfile.mkdtemp(prefix="gitops-sandbox-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.admin_password = secrets.token_urlsafe(12)
        self.git_token = secrets.token_urlsafe(24)
        self.auth = Auth(self.admin_password)
        self.token = self.auth.issue()
        self.git_server = GitServer(
            self.state_dir / "git",
            token=self.git_token,
            lifetime=10 * 365 * 86400.0,
            host=self.config.host,
            port=self.config.git_port,
        )
        self.git = GitSource(self.state_dir / "cache")
        self.apps = AppController(
            self.cluster, self.git, self.clock, self.lock, self.config.poll_seconds
        )
        if self.config.verbose:
            self.apps.events = self.log  # type: ignore[method-assign]
        self.running = False
        self.requests: list[tuple[str, str]] = []
        """(verb, route template) of every API request answered, e.g. ("GET", "/api/v1/applications/{name}");
        a path no route matched is recorded as ``unmatched:<path>``."""
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.argocd_url = self.rollouts_url = self.ingress_url = self.git_url = ""
        self.prometheus: Prometheus | None = None

    # lifecycle ---------------------------------------------------------------------------
    @property
    def _apps_file(self) -> Path:
        return self.state_dir / "applications.json"

    def save_apps(self) -> None:
        """With ``--state-dir``, remember the Applications (spec, labels) across restarts; the
        cluster itself starts empty again and auto-sync (or a sync) redeploys."""
        if self._own_state:
            return
        with self.lock:
            saved = [
                {
                    "metadata": {
                        k: v
                        for k, v in a.obj["metadata"].items()
                        if k in ("name", "labels", "annotations")
                    },
                    "spec": a.spec,
                }
                for a in self.apps.apps.values()
            ]
        temp = self._apps_file.with_suffix(".tmp")
        temp.write_text(json.dumps({"gitBase": self.git_url, "applications": saved}, indent=1))
        temp.replace(self._apps_file)

    def _load_apps(self) -> None:
        """Applications saved by a previous run; URLs of its git server now point at this one."""
        if self._own_state or not self._apps_file.exists():
            return
        saved = json.loads(self._apps_file.read_text())
        old_base = str(saved.get("gitBase") or "")
        with self.lock:
            for obj in saved.get("applications") or []:
                source = (obj.get("spec") or {}).get("source") or {}
                url = str(source.get("repoURL", ""))
                if old_base and url.startswith(old_base + "/"):
                    source["repoURL"] = self.git_url + url[len(old_base) :]
                self.apps.create(obj, upsert=True)
        for name in list(self.apps.apps):
            self.apps.load_source(name)
        self.kick()

    def _image_policy(self, image: str) -> str | None:
        """How a new pod's image behaves: a failure set through the control API, else the
        registry's answer when the sandbox has one (a missing tag cannot be pulled)."""
        failing = self.faults.image_policy(image)
        if failing is None and self.puller is not None:
            failing = self.puller(image)
        return failing

    def start(self) -> Sandbox:
        try:
            if self.config.registry:
                self.registry = LocalRegistry(self.state_dir / "registry")
                self.puller = Puller(self.registry.start())
            git_base = self.git_server.start()
            self.git_url = f"{git_base}/git"
            self.git.auth[git_base + "/"] = self.git_token
            api = self._serve(ApiHandler, self.config.port)
            ingress = self._serve(IngressHandler, self.config.ingress_port)
        except BaseException:
            self.stop()  # nothing half-started is left behind (a port in use, say)
            raise
        self.argocd_url = self.rollouts_url = api
        self.ingress_url = ingress
        if self.config.prometheus:
            try:
                self.prometheus = Prometheus(api.removeprefix("http://"), host=self.config.host)
                self.prometheus.start()
            except BaseException:
                self.stop()
                raise
            self.log(f"prometheus on {self.prometheus.url}, scraping {METRICS_PATH} every 1 s")
        for line in self.apps.tools.missing():
            if self.config.verbose:
                self.log(line, "warning")
            else:
                print(f"sandbox: {line}", file=sys.stderr, flush=True)
        self._load_apps()
        self.running = True
        loop = threading.Thread(target=self._loop, name="sandbox-controller", daemon=True)
        loop.start()
        self._threads.append(loop)
        return self

    def _serve(self, handler: type[http.server.BaseHTTPRequestHandler], port: int) -> str:
        server = _Server((self.config.host, port), handler)
        server.sandbox = self
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)
        host, bound = server.server_address[:2]
        return f"http://{host!s}:{bound}"

    def stop(self) -> None:
        """Stop every server and thread (idempotent, also after a failed start)."""
        self.running = False
        self._stop.set()
        with self.lock:
            self.lock.notify_all()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self.git_server.stop()
        if self.prometheus is not None:
            self.prometheus.stop()
        if self.registry is not None:
            self.registry.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()
        if self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """The variables ``sandbox up`` prints, in order (SANDBOX_INGRESS last; with
        ``prometheus``/``registry``, SANDBOX_PROMETHEUS/SANDBOX_REGISTRY before it).

        ``GITOPS_RELEASE_INGRESS_URL`` is the client's ``ingress_url`` setting, so ``verify
        --preview`` works with the env file sourced; ``SANDBOX_INGRESS`` (the same URL) stays for
        the scripts that use it."""
        return {
            "ARGOCD_SERVER": self.argocd_url,
            "ARGOCD_AUTH_TOKEN": self.token,
            "SANDBOX_ADMIN_PASSWORD": self.admin_password,
            "ROLLOUTS_SERVER": self.rollouts_url,
            "SANDBOX_GIT": self.git_url,
            "SANDBOX_GIT_TOKEN": self.git_token,
            **({"SANDBOX_PROMETHEUS": self.prometheus.url} if self.prometheus else {}),
            **({"SANDBOX_REGISTRY": self.registry.host} if self.registry else {}),
            "GITOPS_RELEASE_INGRESS_URL": self.ingress_url,
            "SANDBOX_INGRESS": self.ingress_url,
        }

    def repo_url(self, name: str) -> str:
        """The URL of a repository on the sandbox git server (created by the first push)."""
        return f"{self.git_url}/{name.strip('/').removesuffix('.git')}.git"

    def git_env(self) -> dict[str, str]:
        """Environment additions that let plain ``git`` push to SANDBOX_GIT with the token
        (an ``http.extraHeader`` in the child's environment: never in argv or a URL)."""
        basic = base64.b64encode(f"sandbox:{self.git_token}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }

    def git_setup_line(self) -> str:
        """The command that makes plain ``git push`` to SANDBOX_GIT work, run once in a checkout:
        a credential helper that answers with ``$SANDBOX_GIT_TOKEN`` read at push time. Why this
        form: the token is never written to ``.git/config`` (only the variable's name is), never in
        argv (``git -c http.extraHeader=...`` would put it in every push's command line) and never in
        a URL; a new sandbox with a new token works after sourcing its env file again; the helper
        is the checkout's own, so no other host is ever offered the token."""
        helper = GIT_CREDENTIAL_HELPER
        return f"git config credential.helper {shlex.quote(helper)}"

    def export_lines(self) -> list[str]:
        return [f"export {k}={shlex.quote(v)}" for k, v in self.env().items()]

    def log(self, line: str, level: str = "info") -> None:
        """One line on the log stream when verbose and ``level`` is at or above the config's."""
        if self.config.verbose and LOG_LEVELS.index(level) >= LOG_LEVELS.index(
            self.config.log_level
        ):
            print(f"sandbox: {line}", file=self.config.log_stream or sys.stderr, flush=True)

    # the controller loop -----------------------------------------------------------------
    def _loop(self) -> None:
        interval = min(0.25, max(0.02, self.clock.scale))  # ~1 controller second, bounded
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as err:  # keep serving; a bug shows in the log
                print(f"sandbox: controller error: {type(err).__name__}: {err}", file=sys.stderr)
            self._stop.wait(interval)

    def tick(self) -> None:
        with self.lock:
            due = self.apps.due()
        for name in due:
            self.apps.load_source(name)
        self.kick()

    def kick(self) -> None:
        """Reconcile everything now (after a mutation) and wake the watchers."""
        measured = self._measure()
        with self.lock:
            self.cluster.reconcile(measured)
            for app in list(self.apps.apps.values()):
                self.apps.reconcile(app)
            self.lock.notify_all()

    def _measure(self) -> Measured:
        """The analysis measurements the next pass wants, taken outside the lock: a metric may
        ask the sandbox itself (its ingress, its API), whose handlers take the lock. A caller
        that holds the lock (a handler mid-mutation), or a second thread while one measures,
        leaves them in flight for the next pass (the controller loop's, within a tick)."""
        # Condition._is_owned: whether this thread holds the (reentrant) lock already.
        if self.lock._is_owned() or not self._measuring.acquire(blocking=False):  # type: ignore[attr-defined]
            return {}
        try:
            with self.lock:
                due = self.cluster.due_measurements()
                now = self.clock.seconds()
            return self.cluster.measure(due, now) if due else {}
        finally:
            self._measuring.release()

    def refresh(self, name: str, *, hard: bool = False) -> None:
        """``?refresh=``: fetch Git now and reconcile before answering."""
        self.apps.load_source(name)
        self.kick()

    # the control handle --------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.kick()

    def set_actions_api(self, mode: str) -> None:
        """Serve the resource-action API as Argo CD ``v2`` (3.1.5+), ``v1-only`` (3.0 and
        older) or ``v1-broken`` (3.1.0-3.1.4) does."""
        if mode not in ACTIONS_API:
            raise ValueError(f"actions API {mode!r}: one of {', '.join(ACTIONS_API)}")
        self.actions_api = mode

    def fail_image(
        self, image: str, mode: str = "never-ready", *, rate: float = 1.0, seconds: float = 0.0
    ) -> None:
        """Pods of ``image`` never get ready, cannot pull, answer 500 (``rate``: that share of
        requests) or answer ``seconds`` late (``slow``)."""
        if not image or mode not in IMAGE_MODES:
            raise ValueError(f"image required and mode one of {IMAGE_MODES}")
        if mode in ("http-500", "slow"):
            self.faults.fail_http(image, mode, rate, seconds)
        else:
            with self.lock:
                self.faults.images[image] = mode
        self.kick()

    def clear_image(self, image: str | None = None) -> None:
        with self.lock, self.faults.lock:
            if image:
                self.faults.images.pop(image, None)
                self.faults.http.pop(image, None)
            else:
                self.faults.images.clear()
                self.faults.http.clear()
        self.kick()

    def inject(self, kind: str, **params: Any) -> None:
        """Python twin of ``POST /sandbox/api/v1/faults``."""
        from gitops_release.sandbox.control import Rule

        if kind == "operation-in-progress":
            self.hold_operation(str(params["app"]), float(params.get("seconds", 60)))
            return
        if kind == "sync-fails":
            self.fail_syncs(
                str(params["app"]), int(params.get("count", 1)), str(params.get("message", ""))
            )
            return
        self.faults.add(Rule(kind, int(params.pop("count", 1)), **params))

    def fail_syncs(self, app_name: str, count: int = 1, message: str = "") -> None:
        """The next ``count`` sync operations of the app end Failed (as a refused apply would)."""
        with self.lock:
            app = self.apps.find(app_name)
            app.fail_syncs = count
            app.fail_message = message or (
                'admission webhook "validate.sandbox" denied the request: injected failure'
            )

    def hold_operation(self, app_name: str, seconds: float) -> None:
        with self.lock:
            app = self.apps.find(app_name)
            if not app.obj.get("operation"):
                sync = {"revisions": app.revisions} if app.multi_source else {}
                app.obj["operation"] = {
                    "sync": sync or {"revision": app.revision},
                    "initiatedBy": {"username": "sandbox-fault"},
                    "retry": {},
                }
            app.hold_until = self.clock.seconds() + seconds
        self.kick()

    def reset(self, *, everything: bool = False) -> None:
        self.faults.clear()
        if everything:
            with self.lock:
                for name in list(self.apps.apps):
                    self.apps.delete(name, cascade=True)
                for key in list(self.cluster.objects):
                    self.cluster.delete(key)
        self.kick()

    # helpers for the handlers ------------------------------------------------------------
    def cluster_key(self, obj: dict[str, Any], app: Any) -> Key:
        return key_of(obj, app.namespace)

    def live_node(self, node: dict[str, Any]) -> dict[str, Any] | None:
        key = (node.get("group", ""), node["kind"], node["namespace"], node["name"])
        if node["kind"] in ("ReplicaSet", "Pod"):
            now = self.clock.seconds()
            for rollout in self.cluster.rollouts.values():
                ro_obj = rollout.to_object(str(self.cluster.version))
                for rs in rollout.replicasets:
                    if node["kind"] == "ReplicaSet" and rs.name == node["name"]:
                        return rs.to_object(ro_obj, now, self.clock, self.cluster.timing)
                    for pod in rs.pod_objects(
                        rollout.namespace, now, self.clock, self.cluster.timing
                    ):
                        if pod["metadata"]["name"] == node["name"]:
                            return pod
            return None
        return self.cluster.live_object(key)


__all__ = ["LOG_LEVELS", "C", "R", "Sandbox", "SandboxConfig"]
