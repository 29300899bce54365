"""A real registry beside the sandbox (``sandbox up --registry``), and the pull rule of its cluster.

:class:`LocalRegistry` runs Debian's ``docker-registry`` (the CNCF distribution registry 2.8) on
127.0.0.1, storage in the sandbox's state dir, no auth, stopped by its pid. :class:`Puller` is the
kubelet's pull: an image on that registry whose tag or digest the registry does not have cannot
be pulled (``ErrImagePull``, then ``ImagePullBackOff``, until the tag appears); images on other
registries are not asked (the sandbox reaches no other registry). Own small HTTP code: the
sandbox shares none with the client.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

BINARY = "docker-registry"
ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


class RegistryUnavailable(RuntimeError):
    """``docker-registry`` is not installed, or did not start."""


def find_binary() -> str:
    """``docker-registry`` on PATH (Debian installs it in /usr/bin)."""
    found = shutil.which(BINARY)
    if found is None:
        raise RegistryUnavailable(
            "--registry needs Debian's docker-registry (the CNCF distribution registry): "
            "apt-get install docker-registry, or run the sandbox without --registry"
        )
    return found


class LocalRegistry:
    """``docker-registry serve`` on 127.0.0.1 (``host`` is ``127.0.0.1:PORT``)."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.host = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> str:
        binary = find_binary()
        self.dir.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.host = f"127.0.0.1:{s.getsockname()[1]}"
        config = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.dir / "storage")},
                "delete": {"enabled": True},
            },
            "http": {"addr": self.host, "secret": os.urandom(16).hex()},
        }
        (self.dir / "config.yml").write_text(json.dumps(config))  # JSON is YAML
        log = (self.dir / "registry.log").open("wb")
        self._process = subprocess.Popen(
            [binary, "serve", str(self.dir / "config.yml")], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not _answers(f"http://{self.host}/v2/"):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.dir / "registry.log").read_text(errors="replace")[-500:]
                raise RegistryUnavailable(f"docker-registry did not start: {tail.strip()}")
            time.sleep(0.05)
        return self.host

    def push(self, repository: str, tag: str) -> str:
        """Push a small image (a config and one layer, then a Docker v2 manifest) under ``tag``,
        as ``docker push`` would; returns the manifest digest."""
        base = f"http://{self.host}/v2/{repository}"
        kinds = ("application/vnd.docker.container.image.v1+json",
                 "application/vnd.docker.image.rootfs.diff.tar.gzip")  # fmt: skip
        blobs = []
        for kind, data in zip(kinds, (b'{"architecture":"amd64","os":"linux"}', tag.encode()),
                              strict=True):  # fmt: skip
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            with urllib.request.urlopen(
                urllib.request.Request(f"{base}/blobs/uploads/", method="POST"), timeout=10
            ) as started:
                location = started.headers["Location"]
            location = location if "://" in location else f"http://{self.host}{location}"
            sep = "&" if "?" in location else "?"
            upload = urllib.request.Request(
                f"{location}{sep}digest={digest}", data=data, method="PUT",
                headers={"Content-Type": "application/octet-stream"},
            )  # fmt: skip
            urllib.request.urlopen(upload, timeout=10).close()
            blobs.append({"mediaType": kind, "digest": digest, "size": len(data)})
        kind = "application/vnd.docker.distribution.manifest.v2+json"
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": kind, "config": blobs[0], "layers": blobs[1:]}
        ).encode()
        put = urllib.request.Request(
            f"{base}/manifests/{tag}", data=body, method="PUT", headers={"Content-Type": kind}
        )
        urllib.request.urlopen(put, timeout=10).close()
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def split_image(image: str) -> tuple[str, str, str]:
    """(registry, repository, tag or digest) as Docker reads a reference; registry "" for
    Docker Hub (a first component without ``.``, ``:`` or ``localhost``)."""
    name, digest = image.split("@", 1) if "@" in image else (image, "")
    first, _, rest = name.partition("/")
    registry = ""
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, name = first, rest
    tag = ""
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    return registry, name, digest or tag or "latest"


class Puller:
    """Whether the sandbox's cluster can pull an image: asked at each pod creation, by the
    kubelet's rule (a tag the registry does not have fails the pull). A tag found stays found
    (the kubelet has it then); one not found is asked again for the next pod."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._found: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, image: str) -> str | None:
        registry, repository, reference = split_image(image)
        if registry != self.host:
            return None
        with self._lock:
            if image in self._found:
                return None
        if not self._has(repository, reference):
            return "pull-error"
        with self._lock:
            self._found.add(image)
        return None

    def _has(self, repository: str, reference: str) -> bool:
        request = urllib.request.Request(
            f"http://{self.host}/v2/{repository}/manifests/{reference}",
            method="HEAD",
            headers={"Accept": ACCEPT},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                return bool(reply.status == 200)
        except OSError:  # 404 (HTTPError), or the registry gone: the pull fails
            return False
