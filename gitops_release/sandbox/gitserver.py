"""A smart-HTTP git server on 127.0.0.1: git's own ``http-backend`` behind a threading HTTP server.

What a real forge does that tests need:
- basic auth by token (any user name, password = token) for pushes, optionally for fetches too;
- push-to-create: a push to a missing repository creates it (``git init --bare``) first;
- partial clone (``uploadpack.allowFilter``, ``uploadpack.allowAnySHA1InWant``) and protocol v2;
- request bodies sent chunked (git pushes over 1 MiB that way) or gzip-compressed;
- a bounded lifetime, and fault hooks: make the next pushes lose a race against another writer
  (a real non-fast-forward rejection), answer with an HTTP error, or hang up mid-push.

Usage::

    server = GitServer(root, token="s3cret")
    base_url = server.start()          # http://127.0.0.1:PORT
    ...  git clone base_url + "/team/gitops.git"
    server.stop()

This module is the other side of the wire: it imports nothing from the client package.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BACKEND_CANDIDATES = (
    "/usr/lib/git-core/git-http-backend",
    "/usr/libexec/git-core/git-http-backend",
)
SERVER_CONFIG = {
    "uploadpack.allowFilter": "true",
    "uploadpack.allowAnySHA1InWant": "true",
    "uploadpack.allowReachableSHA1InWant": "true",
    "receive.advertisePushOptions": "true",
    "http.uploadpack": "true",
}
_IDENTITY = {
    "GIT_AUTHOR_NAME": "Another Writer",
    "GIT_AUTHOR_EMAIL": "another@example.com",
    "GIT_COMMITTER_NAME": "Another Writer",
    "GIT_COMMITTER_EMAIL": "another@example.com",
}


def find_backend() -> str:
    for candidate in BACKEND_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    exec_path = subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return str(Path(exec_path) / "git-http-backend")


@dataclass
class Fault:
    kind: str  # "status" | "drop" | "race"
    count: int
    pushes_only: bool = True
    status: int = 503
    after_apply: bool = False


@dataclass
class RequestLog:
    method: str
    path: str
    status: int
    user: str | None


@dataclass
class _State:
    root: Path
    token: str | None
    auth_fetch: bool
    backend: str
    faults: list[Fault] = field(default_factory=list)
    log: list[RequestLog] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    race_writer: Callable[[Path, str], None] | None = None
    races: int = 0


def _base_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LANG": "C",
    }


def _git(repo: Path, *args: str, env: dict[str, str] | None = None, stdin: bytes = b"") -> str:
    return subprocess.run(
        ["git", *args],
        cwd=repo,
        input=stdin,
        capture_output=True,
        check=True,
        env={**_base_env(), **(env or {})},
    ).stdout.decode()


def init_bare(path: Path, branch: str = "main") -> None:
    """A bare repository configured like a forge's (partial clone, push options)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "-b", branch, str(path)],
        check=True,
        capture_output=True,
        env=_base_env(),
    )
    for key, value in SERVER_CONFIG.items():
        _git(path, "config", key, value)


def land_concurrent_commit(repo: Path, ref: str) -> str:
    """Another writer's commit on ``ref`` (a new file under ``concurrent/``); returns its sha."""
    tip = _git(repo, "rev-parse", "--verify", "--quiet", ref).strip()
    if not tip:
        return ""
    name = f"concurrent/{tip[:12]}.txt"
    blob = _git(repo, "hash-object", "-w", "--stdin", stdin=f"{tip}\n".encode()).strip()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), **_IDENTITY}
        _git(repo, "read-tree", tip, env=env)
        _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
        tree = _git(repo, "write-tree", env=env).strip()
        commit = _git(
            repo, "commit-tree", tree, "-p", tip, "-m", f"another writer: {name}", env=env
        ).strip()
    _git(repo, "update-ref", ref, commit, tip)
    return commit


def _apply_push(backend: str, root: Path, path: str, body: bytes, headers: Any) -> None:
    """Run receive-pack on a push request and throw its answer away."""
    env = {
        **_base_env(),
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_TYPE": headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": "git",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.receivepack",
        "GIT_CONFIG_VALUE_0": "true",
    }
    if headers.get("Git-Protocol"):
        env["GIT_PROTOCOL"] = headers["Git-Protocol"]
    subprocess.run([backend], input=body, env=env, capture_output=True, check=False)


def _pushed_refs(body: bytes) -> list[str]:
    """Ref names in a receive-pack request (pkt-lines ``old new ref\\0caps`` before the flush)."""
    refs: list[str] = []
    pos = 0
    while pos + 4 <= len(body):
        try:
            size = int(body[pos : pos + 4], 16)
        except ValueError:
            break
        if size == 0:
            break
        line = body[pos + 4 : pos + size].split(b"\0", 1)[0].strip()
        pos += size
        words = line.split(b" ")
        if len(words) == 3 and not line.startswith((b"shallow", b"push-cert")):
            refs.append(words[2].decode("utf-8", "replace"))
    return refs


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gitops-release-gitserver"
    state: _State  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .log instead
        return

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    # -- helpers --------------------------------------------------------------------------------
    def _reply(self, status: int, text: str = "", headers: dict[str, str] | None = None) -> None:
        body = text.encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _user(self) -> str | None:
        """The user name when the request carries the right token, "" when no token is needed."""
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            if self.state.token is None or password == self.state.token:
                return user or "git"
            return None
        return "" if self.state.token is None else None

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(chunks)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "").lower()
        if encoding in ("gzip", "x-gzip"):
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        return body

    def _take_fault(self, is_push: bool) -> Fault | None:
        with self.state.lock:
            for fault in self.state.faults:
                if fault.count > 0 and (is_push or not fault.pushes_only):
                    if fault.kind in ("race", "drop") and not (
                        self.command == "POST" and self.path.split("?")[0].endswith("receive-pack")
                    ):
                        continue
                    fault.count -= 1
                    return fault
        return None

    def _serve(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parts.path)
        if ".." in path.split("/"):
            self._reply(400, "bad path\n")
            return
        is_push = path.endswith("/git-receive-pack") or "service=git-receive-pack" in parts.query
        body = self._read_body() if self.command == "POST" else b""
        user = self._user()
        status = 200
        try:
            if (is_push or self.state.auth_fetch) and self.state.token and not user:
                status = 401
                self._reply(
                    401, "authentication required\n", {"WWW-Authenticate": 'Basic realm="git"'}
                )
                return
            fault = self._take_fault(is_push)
            if fault and fault.kind == "status":
                status = fault.status
                self._reply(fault.status, f"injected failure {fault.status}\n")
                return
            if fault and fault.kind == "drop":
                # Start an answer, then hang up: a client cannot silently retry after that.
                status = 0
                if fault.after_apply:  # the push lands, the answer never arrives
                    _apply_push(self.state.backend, self.state.root, path, body, self.headers)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-git-receive-pack-result")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                self.wfile.write(b"8\r\n0030\x02unp")
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            repo_rel = path.split("/info/refs")[0].split("/git-")[0].strip("/")
            repo = self.state.root / repo_rel
            if is_push and not repo.exists() and repo_rel:
                init_bare(repo)
            if fault and fault.kind == "race":
                writer = self.state.race_writer or land_concurrent_commit
                for ref in _pushed_refs(body):
                    writer(repo, ref)
                with self.state.lock:
                    self.state.races += 1
            status = self._cgi(path, parts.query, body, user)
        finally:
            with self.state.lock:
                self.state.log.append(RequestLog(self.command, self.path, status, user or None))

    def _cgi(self, path: str, query: str, body: bytes, user: str | None) -> int:
        env = _base_env()
        config = dict(SERVER_CONFIG)
        if user is not None:
            config["http.receivepack"] = "true"
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for i, (key, value) in enumerate(config.items()):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        env.update(
            GIT_PROJECT_ROOT=str(self.state.root),
            GIT_HTTP_EXPORT_ALL="1",
            REQUEST_METHOD=self.command,
            PATH_INFO=path,
            QUERY_STRING=query,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            REMOTE_ADDR=self.client_address[0],
            GATEWAY_INTERFACE="CGI/1.1",
            SERVER_PROTOCOL="HTTP/1.1",
        )
        if user:
            env["REMOTE_USER"] = user
        if self.command == "POST":
            env["CONTENT_LENGTH"] = str(len(body))
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        with tempfile.TemporaryFile() as errfile:
            proc = subprocess.Popen(
                [self.state.backend],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errfile,
                env=env,
            )
            assert proc.stdin is not None and proc.stdout is not None
            writer = threading.Thread(target=_feed, args=(proc.stdin, body), daemon=True)
            writer.start()
            try:
                status = self._relay(proc.stdout)
            except (BrokenPipeError, ConnectionResetError):
                # The client went away mid-answer: stop the backend, forget the connection.
                proc.kill()
                self.close_connection = True
                status = 499
            writer.join()
            proc.wait()
        return status

    def _relay(self, stdout: Any) -> int:
        """Copy the CGI answer: its header block, then the body as HTTP/1.1 chunks."""
        head = b""
        while b"\r\n\r\n" not in head and b"\n\n" not in head:
            piece = stdout.read1(65536) if hasattr(stdout, "read1") else stdout.read(65536)
            if not piece:
                break
            head += piece
        sep = b"\r\n\r\n" if b"\r\n\r\n" in head else b"\n\n"
        header_block, _, rest = head.partition(sep)
        status, headers = 200, []
        for line in header_block.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers.append((key.strip(), value.strip()))
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(key, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = rest
        while True:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            chunk = stdout.read1(65536) if hasattr(stdout, "read1") else stdout.read(65536)
            if not chunk:
                break
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        return status


def _feed(stdin: Any, body: bytes) -> None:
    with contextlib.suppress(BrokenPipeError):
        if body:
            stdin.write(body)
    with contextlib.suppress(BrokenPipeError):
        stdin.close()


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client hanging up is not the server's problem
        super().handle_error(request, client_address)


class GitServer:
    """Start with :meth:`start` (returns the base URL), stop with :meth:`stop` or a ``with`` block."""

    def __init__(
        self,
        root: Path,
        token: str | None = None,
        *,
        auth_fetch: bool = False,
        lifetime: float = 600.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.lifetime = lifetime
        self._address = (host, port)
        self._state = _State(self.root, token, auth_fetch, find_backend())
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self.base_url = ""

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"state": self._state})
        httpd = _HTTPServer(self._address, handler)
        self._httpd = httpd
        host, port = httpd.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving (idempotent); in-flight requests finish on their own threads."""
        httpd, self._httpd = self._httpd, None
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def __enter__(self) -> GitServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- repositories ---------------------------------------------------------------------------
    def url(self, name: str) -> str:
        return f"{self.base_url}/{name.strip('/')}"

    def create_repo(self, name: str, branch: str = "main") -> Path:
        path = self.root / name.strip("/")
        init_bare(path, branch)
        return path

    def import_repo(self, name: str, source: Path) -> Path:
        """Serve a copy of an existing bare repository under ``name``."""
        path = self.root / name.strip("/")
        shutil.copytree(source, path)
        for key, value in SERVER_CONFIG.items():
            _git(path, "config", key, value)
        return path

    # -- fault hooks ----------------------------------------------------------------------------
    def race_next_pushes(
        self, n: int = 1, writer: Callable[[Path, str], None] | None = None
    ) -> None:
        """Before each of the next ``n`` pushes is applied, another writer lands a commit on the
        pushed branch, so git rejects the push as a genuine lost race (stale old value)."""
        with self._state.lock:
            self._state.race_writer = writer
            self._state.faults.append(Fault("race", n))

    reject_next_pushes = race_next_pushes
    """Alias: the rejection is a genuine non-fast-forward (stale old value), not a fake one."""

    def fail_next(self, n: int = 1, status: int = 503, *, pushes_only: bool = False) -> None:
        """Answer the next ``n`` requests (or pushes) with HTTP ``status``."""
        with self._state.lock:
            self._state.faults.append(Fault("status", n, pushes_only=pushes_only, status=status))

    def drop_next_pushes(self, n: int = 1, *, after_apply: bool = False) -> None:
        """Hang up on the next ``n`` push requests (the remote gone mid-push): before applying
        them, or (``after_apply``) after the push landed but before the client hears so."""
        with self._state.lock:
            self._state.faults.append(Fault("drop", n, after_apply=after_apply))

    @property
    def races(self) -> int:
        return self._state.races

    @property
    def log(self) -> list[RequestLog]:
        with self._state.lock:
            return list(self._state.log)
