"""Does the image exist? The check ``bump-image``, ``deploy`` and ``rollback --to`` run before
they clone or write anything (``--verify-image on|warn|off``, setting ``verify_image``).

- ``on`` (default): a missing tag or digest exits 2 naming the nearest existing tags; a registry
  that refuses (401/403) or cannot be reached exits 4 naming its host.
- ``warn``: the same words as a warning, then the command goes on.
- ``off``: no registry call (an air-gapped runner sets it once).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from gitops_release.argo.stdhttp import preload as preload_http
from gitops_release.config import Settings, resolve
from gitops_release.errors import ReleaseError, UsageError
from gitops_release.images import ImageRef
from gitops_release.output import Output
from gitops_release.registry.client import Manifest, RegistryClient
from gitops_release.registry.credentials import find_credentials
from gitops_release.registry.names import locate
from gitops_release.registry.nearest import nearest_tags

MODES = ("on", "warn", "off")


class ImageMissing(UsageError):
    """The registry has no such tag or digest (exit 2: the input is wrong, nothing was done)."""

    def __init__(self, message: str, *, hint: str | None, nearest: list[str]):
        super().__init__(message, hint=hint)
        self.nearest = nearest


def check_mode(mode: str | None) -> str:
    mode = (mode or "on").strip().lower()
    if mode not in MODES:
        raise UsageError(f"--verify-image {mode!r}: expected on, warn or off")
    return mode


@dataclass
class ImageCheck:
    """The registry check of one command run; remembers what it verified (``deploy`` checks
    before cloning, and the edit then finds the same reference already checked)."""

    mode: str = "on"
    insecure_hosts: tuple[str, ...] = ()
    ca_bundle: str | None = None
    environ: Mapping[str, str] | None = None
    out: Output | None = None
    checked: dict[str, Manifest | None] = field(default_factory=dict)
    _clients: dict[str, RegistryClient] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings | None, out: Output | None) -> ImageCheck:
        settings = settings or resolve()
        hosts = str(settings.get("insecure_registry") or "")
        ca_bundle = settings.get("ca_bundle")
        return cls(
            mode=check_mode(str(settings.get("verify_image") or "on")),
            insecure_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()),
            ca_bundle=str(ca_bundle) if ca_bundle else None,
            out=out,
        )

    def preload(self) -> threading.Thread | None:
        """Start importing the registry's HTTP stack on a thread when the check will run (not
        ``off``): ``bump-image`` calls it before git's fetch, which the import then overlaps."""
        return None if self.mode == "off" else preload_http()

    def client(self, ref: ImageRef) -> RegistryClient:
        loc = locate(ref, self.insecure_hosts)
        if loc.host not in self._clients:
            env = os.environ if self.environ is None else self.environ
            self._clients[loc.host] = RegistryClient(
                loc, find_credentials(loc.registry, env), verify=self.ca_bundle or True
            )
        return self._clients[loc.host]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def verify(self, ref: ImageRef) -> Manifest | None:
        """Check ``ref`` exists (by digest when it has one, else by tag). Returns its manifest,
        or None when off, or when ``warn`` let a problem pass."""
        if self.mode == "off":
            return None
        key = str(ref)
        if key in self.checked:
            return self.checked[key]
        try:
            manifest = self._verify(ref)
        except ReleaseError as err:
            if self.mode != "warn":
                raise
            if self.out is not None:
                self.out.warn(f"{err} [--verify-image warn: going on]")
            manifest = None
        self.checked[key] = manifest
        return manifest

    def digest(self, ref: ImageRef) -> str:
        """The registry's digest of ``ref`` now (``--pin-digest``, the re-push check): asked
        whatever ``--verify-image`` says, since the caller needs the answer; a missing tag or a
        registry that refuses or cannot be reached raises."""
        manifest = self.checked.get(str(ref))
        if manifest is None:
            manifest = self._verify(ref)
            self.checked[str(ref)] = manifest
        return manifest.digest

    def tags(self, ref: ImageRef) -> list[str]:
        """Every tag of ``ref``'s repository (``--semver``): asked whatever ``--verify-image``
        says; a registry that refuses or cannot be reached raises (exit 4)."""
        return self.client(ref).tags()

    def _verify(self, ref: ImageRef) -> Manifest:
        client = self.client(ref)
        loc = client.location
        reference = ref.digest or ref.tag or "latest"
        manifest = client.manifest(reference)
        if manifest is not None:
            return manifest
        if ref.digest:
            raise ImageMissing(
                f"image {ref} not found: registry {loc.host} has no manifest {ref.digest} "
                f"in {loc.repository}",
                hint="check the digest (docker buildx imagetools inspect), or --verify-image off",
                nearest=[],
            )
        tags = client.tags()
        near = nearest_tags(reference, tags)
        if not tags:
            where = f"registry {loc.host} has no tags in repository {loc.repository}"
            hint = "check the image name and that the build pushed it"
        else:
            where = f"registry {loc.host} has no tag {reference} in {loc.repository}"
            hint = f"nearest existing: {', '.join(near)}"
        raise ImageMissing(
            f"image {ref} not found: {where}", hint=hint + "; or --verify-image off", nearest=near
        )
