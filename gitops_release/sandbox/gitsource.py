"""Reading an Application's source with real git (plain ``git`` subprocesses, no GitPython).

Every repository URL (``http(s)://``, ``file://`` or a plain path) gets a bare cache under the
state directory; a fetch updates it, ``resolve`` turns ``targetRevision`` into a commit and
``read_tree`` returns the files under the app's path at that commit.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import threading
from pathlib import Path


class SourceError(Exception):
    """The repository or revision cannot be read (Argo CD shows a ComparisonError)."""


class GitSource:
    def __init__(self, cache: Path, *, auth: dict[str, str] | None = None) -> None:
        """``auth`` maps a URL prefix to a token sent as basic auth (the sandbox's own git)."""
        self.cache = cache
        self.cache.mkdir(parents=True, exist_ok=True)
        self.auth = dict(auth or {})
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, url: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(url, threading.Lock())

    def _env(self, url: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG")}
        env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
        for prefix, token in self.auth.items():
            if url.startswith(prefix):
                basic = base64.b64encode(f"sandbox:{token}".encode()).decode()
                # the token travels in the child's environment, never in argv or a URL
                env.update(
                    GIT_CONFIG_COUNT="1",
                    GIT_CONFIG_KEY_0="http.extraHeader",
                    GIT_CONFIG_VALUE_0=f"Authorization: Basic {basic}",
                )
        return env

    def _git(self, repo: Path, *args: str, url: str = "", stdin: bytes | None = None) -> bytes:
        proc = subprocess.run(
            ["git", "-C", str(repo), *args],
            input=stdin,
            capture_output=True,
            env=self._env(url),
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            message = proc.stderr.decode(errors="replace").strip().splitlines()
            raise SourceError(message[-1] if message else f"git {args[0]} failed")
        return proc.stdout

    def mirror(self, url: str) -> Path:
        path = self.cache / (hashlib.sha256(url.encode()).hexdigest()[:16] + ".git")
        if not (path / "HEAD").exists():
            path.mkdir(parents=True, exist_ok=True)
            self._git(path, "init", "-q", "--bare")
        return path

    def fetch(self, url: str) -> Path:
        """Update the cache of ``url`` (one fetch at a time per repository)."""
        with self._lock(url):
            return self._fetch(url)

    def _fetch(self, url: str) -> Path:
        mirror = self.mirror(url)
        remote = url
        if "://" not in url:
            remote = str(Path(url).resolve())
        refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
        fetch = ("fetch", "-q", "--prune", "--force", remote)
        try:  # one round trip when the remote has a HEAD
            self._git(mirror, *fetch, *refspecs, "+HEAD:refs/sandbox/HEAD", url=url)
        except SourceError:  # an empty remote (or one without HEAD)
            self._git(mirror, *fetch, *refspecs, url=url)
        return mirror

    def resolve(self, mirror: Path, revision: str) -> str:
        rev = revision.strip() or "HEAD"
        candidates = [f"refs/heads/{rev}", f"refs/tags/{rev}", rev]
        if rev == "HEAD":
            candidates = ["refs/sandbox/HEAD"]
        for candidate in candidates:
            try:
                out = self._git(mirror, "rev-parse", "--verify", "-q", f"{candidate}^{{commit}}")
            except SourceError:
                continue
            return out.decode().strip()
        raise SourceError(f"unable to resolve '{revision}' to a commit SHA")

    def read_tree(self, mirror: Path, sha: str, path: str) -> dict[str, bytes]:
        """Files under ``path`` at ``sha``, keyed by their path relative to ``path``."""
        prefix = path.strip("/").removeprefix("./")
        prefix = "" if prefix in ("", ".") else prefix + "/"
        listing = self._git(mirror, "ls-tree", "-r", "-z", sha, "--", prefix or ".")
        entries: list[tuple[str, str]] = []
        for record in listing.split(b"\0"):
            if not record:
                continue
            meta, name = record.decode().split("\t", 1)
            mode, kind, obj = meta.split()
            if kind == "blob" and mode != "120000":
                entries.append((name, obj))
        if not entries and prefix:
            raise SourceError(f"{path}: app path does not exist")
        if not entries:
            return {}
        batch = self._git(
            mirror, "cat-file", "--batch", stdin="\n".join(o for _, o in entries).encode() + b"\n"
        )
        files: dict[str, bytes] = {}
        pos = 0
        for name, _ in entries:
            header_end = batch.index(b"\n", pos)
            size = int(batch[pos:header_end].split()[2])
            start = header_end + 1
            files[name[len(prefix) :]] = batch[start : start + size]
            pos = start + size + 1
        return files

    def metadata(self, mirror: Path, revision: str) -> dict[str, object]:
        """RevisionMetadata of a commit: author, date, message, tags."""
        sha = self.resolve(mirror, revision)
        out = self._git(mirror, "show", "-s", "--format=%an <%ae>%x00%cI%x00%B", sha).decode()
        author, date, message = out.split("\0", 2)
        tags = self._git(mirror, "tag", "--points-at", sha).decode().split()
        meta: dict[str, object] = {"author": author, "date": date, "message": message.strip()}
        if tags:
            meta["tags"] = tags
        return meta
