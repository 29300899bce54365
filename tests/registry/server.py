"""A real registry for the tests: Debian's ``docker-registry`` (the CNCF distribution registry
2.8) started on 127.0.0.1 with filesystem storage in tmp, in one of three modes (no auth, htpasswd
basic auth, token auth with a token server these tests own), or serving TLS, and stopped by its
pid. The fixtures are in ``tests/registry/conftest.py``; a test elsewhere (the GitLab component's)
starts one with :func:`start` and :func:`stop`.

Images are pushed through the registry's HTTP API (blobs, then manifests these tests build).
A missing binary skips the tests on a laptop and fails them under CI (``.ci/run`` installs it).
``CI`` is read at import, because the autouse environment fixture removes it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
BINARY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
USER, PASSWORD = "ci-bot", "s3cret-registry-pass"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """The token service of the registry's ``auth.token`` mode: basic auth in, an RS256 JWT out
    (its certificate in the ``x5c`` header, trusted through the registry's ``rootcertbundle``)."""

    def __init__(self, tmp: Path, service: str, issuer: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.service, self.issuer = service, issuer
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test token issuer")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.bundle = tmp / "token-root.pem"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                auth = self.headers.get("Authorization", "")
                user = None
                if auth.startswith("Basic "):
                    u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                    if (u, p) != (USER, PASSWORD):
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = u
                server.requests.append({"user": user, **{k: v[0] for k, v in query.items()}})
                actions: list[str] = []
                access = []
                for scope in query.get("scope", []):
                    kind, repo, wanted = scope.split(":")
                    actions = wanted.split(",") if user else []
                    access.append({"type": kind, "name": repo, "actions": actions})
                token = server.sign(user or "", access)
                body = json.dumps({"token": token, "access_token": token, "expires_in": 300})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def sign(self, subject: str, access: list[dict[str, Any]]) -> str:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        der = self.cert.public_bytes(serialization.Encoding.DER)
        header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(der).decode()]}
        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + 300,
            "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access,
        }  # fmt: skip
        signing = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{_b64url(signature)}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Registry:
    """A running registry and how to push to it."""

    host: str
    mode: str
    process: subprocess.Popen[bytes] | None
    """None: a registry someone else runs (the sandbox's), only pushed to here."""
    token_server: TokenServer | None = None
    session: requests.Session = field(default_factory=requests.Session)
    scheme: str = "http"
    addr: str = ""
    """Where the registry listens, when the image references name it otherwise (TLS: by name)."""
    ca_bundle: str = ""
    """The PEM file of the CA that signed a TLS registry's certificate."""
    user: str = USER
    password: str = PASSWORD
    DOCKER_MANIFEST = DOCKER_MANIFEST
    OCI_MANIFEST = OCI_MANIFEST
    OCI_INDEX = OCI_INDEX

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def _auth(self, repo: str) -> dict[str, str]:
        if self.mode == "basic":
            raw = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        if self.mode == "token":
            assert self.token_server is not None
            access = [{"type": "repository", "name": repo, "actions": ["pull", "push"]}]
            return {"Authorization": f"Bearer {self.token_server.sign(USER, access)}"}
        return {}

    def blob(self, repo: str, data: bytes) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        auth = self._auth(repo)
        start = self.session.post(f"{self.url}/v2/{repo}/blobs/uploads/", headers=auth)
        assert start.status_code == 202, start.text
        location = start.headers["Location"]
        if location.startswith("/"):
            location = self.url + location
        sep = "&" if "?" in location else "?"
        put = self.session.put(
            f"{location}{sep}digest={digest}",
            data=data,
            headers={**auth, "Content-Type": "application/octet-stream"},
        )
        assert put.status_code == 201, put.text
        return {"digest": digest, "size": len(data)}

    def push(self, repo: str, tag: str, kind: str = DOCKER_MANIFEST, seed: str = "") -> str:
        """Push a small image (config + one layer) under ``tag``; returns the manifest digest."""
        seed = seed or f"{repo}:{tag}"
        config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
        layer = f"layer of {seed}".encode()
        config_type = (
            "application/vnd.docker.container.image.v1+json"
            if kind == DOCKER_MANIFEST
            else "application/vnd.oci.image.config.v1+json"
        )
        layer_type = (
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
            if kind == DOCKER_MANIFEST
            else "application/vnd.oci.image.layer.v1.tar+gzip"
        )
        manifest = {
            "schemaVersion": 2,
            "mediaType": kind,
            "config": {"mediaType": config_type, **self.blob(repo, config)},
            "layers": [{"mediaType": layer_type, **self.blob(repo, layer)}],
        }
        return self.put_manifest(repo, tag, json.dumps(manifest).encode(), kind)

    def push_index(self, repo: str, tag: str) -> str:
        """An OCI index of two platform images (each pushed by digest first)."""
        entries = []
        for arch in ("amd64", "arm64"):
            digest = self.push(repo, f"{tag}-{arch}", OCI_MANIFEST, seed=f"{tag}/{arch}")
            body = self.session.get(
                f"{self.url}/v2/{repo}/manifests/{digest}",
                headers={**self._auth(repo), "Accept": OCI_MANIFEST},
            ).content
            entries.append(
                {
                    "mediaType": OCI_MANIFEST, "digest": digest, "size": len(body),
                    "platform": {"architecture": arch, "os": "linux"},
                }
            )  # fmt: skip
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return self.put_manifest(repo, tag, json.dumps(index).encode(), OCI_INDEX)

    def retag(self, repo: str, source: str, tags: list[str]) -> None:
        """Give the manifest of ``source`` more tags (no new blobs)."""
        got = self.session.get(
            f"{self.url}/v2/{repo}/manifests/{source}",
            headers={**self._auth(repo), "Accept": DOCKER_MANIFEST},
        )
        for tag in tags:
            self.put_manifest(repo, tag, got.content, DOCKER_MANIFEST)

    def put_manifest(self, repo: str, tag: str, body: bytes, kind: str) -> str:
        put = self.session.put(
            f"{self.url}/v2/{repo}/manifests/{tag}",
            data=body,
            headers={**self._auth(repo), "Content-Type": kind},
        )
        assert put.status_code == 201, put.text
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        assert put.headers.get("Docker-Content-Digest") == digest
        return digest


class PrivateCA:
    """A CA these tests make, and a server certificate it signs for ``name`` and ``ip``."""

    def __init__(self, tmp: Path, name: str, ip: str) -> None:
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.UTC)
        valid = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=1))

        def build(subject: str, issuer: x509.Name | None, public: Any) -> x509.CertificateBuilder:
            sub = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
            return (
                x509.CertificateBuilder().subject_name(sub).issuer_name(issuer or sub)
                .public_key(public).serial_number(x509.random_serial_number())
                .not_valid_before(valid[0]).not_valid_after(valid[1])
            )  # fmt: skip

        usage = dict.fromkeys(
            ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "encipher_only", "decipher_only"), False,
        )  # fmt: skip
        ca_usage = x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, **usage)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            build("gitops-release test CA", None, ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(ca_usage, critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        alt = [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address(ip))]
        cert = (
            build(name, ca.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.bundle = tmp / "ca.pem"
        self.bundle.write_bytes(ca.public_bytes(pem))
        self.certificate = tmp / "registry.pem"
        self.certificate.write_bytes(cert.public_bytes(pem))
        self.key = tmp / "registry.key"
        self.key.write_bytes(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )


def machine_name() -> tuple[str, str]:
    """This machine's host name and the address it resolves to: a registry name that is not
    loopback by its spelling (``localhost`` and ``127.*`` are insecure by default, as in Docker),
    so TLS is verified, while the traffic stays on this machine."""
    name = socket.gethostname()
    try:
        ip = socket.gethostbyname(name)
    except OSError as err:
        pytest.fail(f"the host name {name!r} does not resolve ({err}): the TLS registry tests "
                    "need it to (add it to /etc/hosts)", pytrace=False)  # fmt: skip
    return name, ip


def start(
    tmp: Path, mode: str, tls: bool = False, named: tuple[str, str] | None = None
) -> Registry:
    if not os.access(BINARY, os.X_OK):
        reason = f"{BINARY} not found (apt-get install -y --no-install-recommends docker-registry)"
        if IN_CI:
            pytest.fail(f"{reason} (CI is set: tests that need it must run)", pytrace=False)
        pytest.skip(reason)
    port = _free_port()
    host = addr = f"127.0.0.1:{port}"
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(tmp / "storage")}},
        "http": {"addr": host, "secret": uuid.uuid4().hex},
    }
    ca = None
    if tls:
        name, ip = named or machine_name()
        host, addr = f"{name}:{port}", f"{ip}:{port}"
        ca = PrivateCA(tmp, name, ip)
        config["http"].update(
            addr=addr, tls={"certificate": str(ca.certificate), "key": str(ca.key)}
        )
    token_server = None
    if mode == "basic":
        import bcrypt

        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        (tmp / "htpasswd").write_text(f"{USER}:{hashed}\n")
        config["auth"] = {"htpasswd": {"realm": "test-registry", "path": str(tmp / "htpasswd")}}
    elif mode == "token":
        token_server = TokenServer(tmp, service="test-registry", issuer="test-issuer")
        config["auth"] = {
            "token": {
                "realm": token_server.url, "service": "test-registry", "issuer": "test-issuer",
                "rootcertbundle": str(token_server.bundle),
            }
        }  # fmt: skip
    (tmp / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    log = (tmp / "registry.log").open("wb")
    process = subprocess.Popen(
        [BINARY, "serve", str(tmp / "config.yml")], stdout=log, stderr=subprocess.STDOUT
    )
    session = requests.Session()
    session.verify = str(ca.bundle) if ca else True
    scheme = "https" if tls else "http"
    deadline = time.monotonic() + 20
    while True:
        try:
            session.get(f"{scheme}://{host}/v2/", timeout=1)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    f"docker-registry did not start: {(tmp / 'registry.log').read_text()[-2000:]}"
                ) from None
            time.sleep(0.05)
    return Registry(
        host=host, mode=mode, process=process, token_server=token_server, session=session,
        scheme=scheme, addr=addr, ca_bundle=str(ca.bundle) if ca else "",
    )  # fmt: skip


def stop(registry: Registry) -> None:
    assert registry.process is not None
    registry.process.terminate()
    try:
        registry.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        registry.process.kill()
        registry.process.wait()
    if registry.token_server is not None:
        registry.token_server.close()
