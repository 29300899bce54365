"""Where images are written in a YAML file: the sites ``yaml.spans`` finds and ``yaml.edit`` changes
(plain data, no YAML library: callers such as ``release`` read these to choose and report)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gitops_release.errors import UsageError
from gitops_release.images import ImageRef, parse_image


@dataclass(frozen=True)
class Span:
    """One scalar as written: ``text[start:end]`` is its token (quotes included, properties
    such as ``&anchor`` excluded). An absent value (``key:`` with nothing after it) has
    ``start == end`` just after the colon, and ``style == "null"``."""

    start: int
    end: int
    value: str
    style: str
    """``""`` plain, ``"'"``/``'"'`` quoted, ``"|"``/``">"`` block, ``"null"`` for no value at all."""
    line: int
    """1-based line of the value."""
    column: int
    """1-based column of the value."""
    in_flow: bool = False
    """Inside a flow collection (``[...]``/``{...}``), where ``,[]{}`` must be quoted."""
    shared: bool = False
    """Reached through an alias or merge key: editing it changes every other user of the anchor."""


@dataclass(frozen=True)
class Slot:
    """Where a missing key of an image mapping can be added: ``prefix + "key: value" + suffix``
    is inserted at ``at`` (a new line at the keys' indentation after the mapping's last line in
    block style, ``, key: value`` before the closing brace in flow style)."""

    at: int
    prefix: str
    suffix: str
    line: int
    in_flow: bool
    shared: bool


@dataclass(frozen=True)
class ImageSite:
    """One place an image is written. ``fields`` maps a role to the span holding it.

    Roles: ``image`` (a whole reference), ``prefix`` (Helm ``registry``/``hub``), ``repository``
    (Helm ``repository``/``name``/``image`` inside an image mapping), ``tag``, ``digest`` (Helm
    ``digest``, or ``sha`` holding only the hex digits: see ``digest_hex_only``), and for
    kustomize ``name`` (never edited), ``newName``, ``newTag``, ``digest``.
    """

    file: str
    document: int
    """0-based index of the YAML document in the file."""
    yaml_path: str
    """Path of the image scalar, or of the image mapping for split forms, e.g.
    ``spec.template.spec.containers[0].image`` or ``images[1]``."""
    kind: str
    """The object's ``kind`` (``Rollout``, ``Deployment``...), ``kustomization`` or ``helm-values``."""
    container: str | None
    """Container name when the site is a container's ``image``."""
    current: str
    """The full current reference as it resolves: ``[registry/]repository[:tag][@digest]``."""
    form: str
    """``reference`` (one scalar), ``split`` (Helm-style keys) or ``kustomize``."""
    fields: tuple[tuple[str, Span], ...]
    object_name: str | None = None
    """``metadata.name`` of the object holding the site, when it has one."""
    digest_hex_only: bool = False
    problem: str | None = None
    """Why this site cannot be edited (placeholder, duplicate key, alias, invalid value), or None."""
    key_paths: tuple[tuple[str, str], ...] = field(default=())
    """Role -> YAML path of that field (for messages and change reports)."""
    slot: Slot | None = None
    """Where a missing ``tag``/``digest``/``newName``/``newTag`` key can be added (split and
    kustomize forms), or None when the mapping's shape does not allow a safe insertion."""

    @property
    def line(self) -> int:
        return self.fields[0][1].line if self.fields else 0

    def field(self, role: str) -> Span | None:
        for name, span in self.fields:
            if name == role:
                return span
        return None

    def path_of(self, role: str) -> str:
        for name, path in self.key_paths:
            if name == role:
                return path
        return self.yaml_path

    @property
    def image(self) -> ImageRef | None:
        """``current`` parsed, or None when it is empty, a placeholder or not a valid reference."""
        try:
            return parse_image(self.current) if self.current else None
        except UsageError:
            return None

    @property
    def names(self) -> tuple[str, ...]:
        """Names that identify this image for ``--image-name`` (a kustomize entry answers to
        both its ``name`` and its ``newName``)."""
        found: list[str] = []
        ref = self.image
        if ref is not None:
            found.append(ref.name)
        kust = self.field("name")
        if self.form == "kustomize" and kust is not None:
            found.append(_strip_ref(kust.value))
        return tuple(dict.fromkeys(found))

    @property
    def shared(self) -> bool:
        return any(span.shared for _, span in self.fields)

    def describe(self) -> str:
        """One line for candidate lists: ``file:line doc N path = current``."""
        who = f" (container {self.container})" if self.container else ""
        return f"{self.file}:{self.line} doc {self.document} {self.yaml_path}{who} = {self.current or '(empty)'}"


@dataclass(frozen=True)
class WorkloadRef:
    """A Rollout whose pod template lives in another object (``spec.workloadRef``): its image
    is edited there. The caller finds the file holding ``kind``/``name``."""

    file: str
    document: int
    rollout: str | None
    kind: str
    name: str
    api_version: str | None


def _strip_ref(name: str) -> str:
    ref = name.split("@", 1)[0]
    slash, colon = ref.rfind("/"), ref.rfind(":")
    return ref[:colon] if colon > slash else ref
