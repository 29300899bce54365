"""The registry fixtures: Debian's ``docker-registry`` in each auth mode, and serving TLS
(see ``tests/registry/server.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.registry.server import Registry, start, stop

__all__ = ["Registry"]


@pytest.fixture(params=["none", "basic", "token"])
def any_registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """The registry in each of its three auth modes."""
    registry = start(tmp_path_factory.mktemp(f"registry-{request.param}"), request.param)
    yield registry
    stop(registry)


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The registry without auth."""
    reg = start(tmp_path_factory.mktemp("registry"), "none")
    yield reg
    stop(reg)


@pytest.fixture
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The registry without auth, serving HTTPS with a certificate from a private CA, named by
    this machine's host name (see :func:`machine_name`)."""
    reg = start(tmp_path_factory.mktemp("registry-tls"), "none", tls=True)
    yield reg
    stop(reg)


@pytest.fixture
def tls_loopback_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The registry serving HTTPS on 127.0.0.1 (a loopback registry: insecure by default)."""
    tmp = tmp_path_factory.mktemp("registry-tls-loopback")
    reg = start(tmp, "none", tls=True, named=("localhost", "127.0.0.1"))
    yield reg
    stop(reg)


@pytest.fixture
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start(tmp_path_factory.mktemp("registry-basic"), "basic")
    yield reg
    stop(reg)


@pytest.fixture
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start(tmp_path_factory.mktemp("registry-token"), "token")
    yield reg
    stop(reg)
