"""Where an image lives: the registry host to call and the repository path on it (pure).

The rules are Docker's (distribution/reference ``ParseNormalizedNamed``): a reference without a
registry is on Docker Hub, whose API host is ``registry-1.docker.io``; a one-component name there
is an official image under ``library/`` (``nginx`` = ``docker.io/library/nginx``). ``localhost``,
a name with a ``.`` or a ``:port`` is a registry. Loopback registries are "insecure" by default,
as for the Docker daemon: TLS is tried without verification and plain HTTP after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gitops_release.images import ImageRef

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Location:
    registry: str
    """The registry as a user names it (``docker.io``, ``registry.example.com:5000``)."""
    host: str
    """The host[:port] the API calls go to (``registry-1.docker.io`` for Docker Hub)."""
    repository: str
    """The path on the registry (``library/nginx``)."""
    insecure: bool = False

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}"


def _bare_host(registry: str) -> str:
    if registry.startswith("["):
        return registry.split("]", 1)[0] + "]"
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def is_loopback(registry: str) -> bool:
    host = _bare_host(registry).strip("[]")
    return host == "localhost" or host.startswith("127.") or host == "::1"


def locate(ref: ImageRef, insecure_hosts: Iterable[str] = ()) -> Location:
    """The registry host and repository path of ``ref``. ``insecure_hosts`` (``--insecure-registry``)
    match a registry with or without its port."""
    registry = ref.registry or DOCKER_HUB
    repository = ref.repository
    if registry in _HUB_ALIASES:
        registry, host = DOCKER_HUB, DOCKER_HUB_API
        if "/" not in repository:
            repository = f"library/{repository}"
    else:
        host = registry
    listed = set(insecure_hosts)
    insecure = is_loopback(registry) or registry in listed or _bare_host(registry) in listed
    return Location(registry=registry, host=host, repository=repository, insecure=insecure)
