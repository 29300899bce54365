"""Container image references: ``[registry[:port]/]repository[:tag][@digest]`` (pure).

The grammar is the one of distribution/reference (what Docker, containerd and Kubernetes accept):
the tag is after the last ``:`` that follows the last ``/`` (so a registry port is not a tag), the
digest is after ``@``. The first component is a registry when it contains ``.`` or ``:`` or is
``localhost``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from gitops_release.errors import UsageError

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_COMPONENT_RE = re.compile(rf"^{_COMPONENT}$")
_DOMAIN_RE = re.compile(
    r"^(?:localhost|(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$"
)
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$")
_PLACEHOLDER_RE = re.compile(r"\$\{[^}]*\}|\$\([^)]*\)|\{\{.*?\}\}|<[^>]*>|\$[A-Z_][A-Z0-9_]*")
MAX_REFERENCE = 255 + 1 + 128 + 1 + 135


def is_placeholder(text: str) -> bool:
    """True for templated values (``${VAR}``, ``{{ .Values.x }}``, ``<image>``): not images to edit."""
    return bool(_PLACEHOLDER_RE.search(text))


def _where(what: str | None) -> str:
    return f"{what}: " if what else ""


def validate_tag(tag: str, *, what: str | None = "tag") -> str:
    if not TAG_RE.match(tag):
        raise UsageError(
            f"{_where(what)}invalid image tag {tag!r}",
            hint="a tag is 1-128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'",
        )
    return tag


def validate_digest(digest: str, *, what: str | None = "digest") -> str:
    if not DIGEST_RE.match(digest):
        raise UsageError(
            f"{_where(what)}invalid digest {digest!r}",
            hint="expected sha256: followed by 64 lower-case hex digits",
        )
    return digest


@dataclass(frozen=True)
class ImageRef:
    repository: str
    """The path below the registry, e.g. ``team/app`` or ``ikubernetes/myapp``."""
    registry: str | None = None
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Registry and repository, without tag or digest: what identifies "the same image"."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    def with_tag(self, tag: str, digest: str | None = None) -> ImageRef:
        return replace(self, tag=tag, digest=digest)

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image(text: str, *, what: str | None = "image") -> ImageRef:
    """Parse an image reference or raise :class:`UsageError` naming ``what`` and the problem."""
    if not text or text != text.strip() or any(c.isspace() for c in text):
        raise UsageError(
            f"{_where(what)}invalid image reference {text!r}: empty or contains white space"
        )
    if len(text) > MAX_REFERENCE:
        raise UsageError(
            f"{_where(what)}invalid image reference: {len(text)} characters is too long"
        )
    if is_placeholder(text):
        raise UsageError(
            f"{_where(what)}{text!r} is a template placeholder, not an image reference"
        )
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        validate_digest(digest, what=what)
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        validate_tag(tag, what=what)
    parts = rest.split("/")
    registry = None
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry = parts.pop(0)
        if not _DOMAIN_RE.match(registry):
            raise UsageError(f"{_where(what)}invalid registry {registry!r} in {text!r}")
    for component in parts:
        if not _COMPONENT_RE.match(component):
            raise UsageError(
                f"{_where(what)}invalid repository {'/'.join(parts)!r} in {text!r}",
                hint="repository path components are lower-case letters and digits separated by '.', '_', '__' or '-'",
            )
    if len("/".join(parts)) + len(registry or "") > 255:
        raise UsageError(f"{_where(what)}repository name in {text!r} is longer than 255 characters")
    return ImageRef(repository="/".join(parts), registry=registry, tag=tag, digest=digest)


def is_reference(text: str) -> bool:
    """True when ``text`` names a repository (has ``/``, ``@`` or a ``:`` tag), not a bare tag."""
    return "/" in text or "@" in text or ":" in text


def resolve_target(current: ImageRef, tag_or_ref: str, digest: str | None = None) -> ImageRef:
    """The new image for ``bump-image TAG_OR_REF``: a bare tag keeps the repository part.

    Digest policy: a digest pins the content and wins over the tag at pull time, so a stale
    digest would silently keep the old image. Bumping the tag therefore drops the old digest
    unless a new one is given (``--digest`` or ``ref@sha256:...``).
    """
    if digest is not None:
        validate_digest(digest, what="--digest")
    if is_reference(tag_or_ref):
        target = parse_image(tag_or_ref, what="new image")
        if digest and target.digest and digest != target.digest:
            raise UsageError("--digest disagrees with the digest inside the new image reference")
        return replace(target, digest=target.digest or digest)
    validate_tag(tag_or_ref, what="new tag")
    return current.with_tag(tag_or_ref, digest)


def check_tag_or_ref(tag_or_ref: str) -> None:
    """Refuse (exit 2) a new ``TAG_OR_REF`` that is neither a valid tag nor a valid reference."""
    if is_reference(tag_or_ref):
        parse_image(tag_or_ref, what="new image")
    else:
        validate_tag(tag_or_ref, what="new tag")


def tag_of(image: str) -> str:
    """The tag of ``image`` ("" when it has none or does not parse)."""
    if not image:
        return ""
    try:
        return parse_image(image, what="image").tag or ""
    except UsageError:
        return ""


def short(image: str) -> str:
    """What a message calls an image: its tag, or the whole reference when it has no tag."""
    return tag_of(image) or image


def new_tag(tag_or_ref: str) -> str:
    """The tag ``TAG_OR_REF`` asks for: the tag itself, a reference's tag, else its digest."""
    if not is_reference(tag_or_ref):
        return tag_or_ref
    ref = parse_image(tag_or_ref, what="new image")
    return ref.tag or (ref.digest or "")


def version(ref: ImageRef) -> str:
    """A commit subject's version of ``ref``: ``v2``, ``v2@sha256:0123456789ab``, or ``latest``."""
    text = ref.tag or ""
    if ref.digest:
        text += f"@{ref.digest[:19]}"
    return text or "latest"


def image_matches(have: str, want: str) -> bool:
    """Exact, or the same name and tag when ``want`` carries no digest."""
    if have == want:
        return True
    return "@" not in want and have.split("@", 1)[0] == want


def runs_tag(images: tuple[str, ...] | list[str], tag_or_ref: str) -> bool:
    """Does one of ``images`` already carry this tag (or exactly this reference)?"""
    for image in images:
        if is_reference(tag_or_ref):
            if image_matches(image, tag_or_ref):
                return True
            continue
        try:
            if parse_image(image, what="image").tag == tag_or_ref:
                return True
        except UsageError:
            continue
    return False


def pick_image(images: tuple[str, ...] | list[str], like: str | None) -> str | None:
    """The one image, or the one with the same repository as ``like``."""
    if not images:
        return None
    if like and len(images) > 1:
        try:
            name = parse_image(like, what="image").name if is_reference(like) else None
        except UsageError:
            name = None
        for image in images:
            if name and parse_image(image, what="image").name == name:
                return image
    return images[0]


_SEMVER_RE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$")


def compare_versions(a: str, b: str) -> int | None:
    """-1, 0 or 1 as image ``a``'s tag is older than, equal to or newer than ``b``'s by semver
    (``v2`` = ``2.0.0``; a pre-release is older than its release); None when either is no semver
    or the two are different repositories."""
    try:
        ra, rb = parse_image(a, what="image"), parse_image(b, what="image")
    except UsageError:
        return None
    ma, mb = _SEMVER_RE.match(ra.tag or ""), _SEMVER_RE.match(rb.tag or "")
    if ra.name != rb.name or ma is None or mb is None:
        return None

    def key(m: re.Match[str]) -> tuple[int, int, int, int, str]:
        major, minor, patch, pre = m.groups()
        return (int(major), int(minor or 0), int(patch or 0), 0 if pre else 1, pre or "")

    ka, kb = key(ma), key(mb)
    return (ka > kb) - (ka < kb)
