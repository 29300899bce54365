"""Find images in YAML by meaning and change them byte-exactly (``yaml.read`` reads, ``yaml.spans``
locates, ``yaml.verify`` checks the splice: the yaml package is the only ruamel.yaml importer).

Editing never re-serialises: ``find_images`` locates every image site with its scalar spans,
``apply_image`` splices new tokens into exactly those spans, then re-parses the result and checks
that only the intended scalars changed and that every byte outside the spans is untouched. Any
doubt raises :class:`YamlError` (exit 2) and returns nothing, so the caller writes nothing.

Typical use (the caller owns files and git)::

    source = read_text(path.read_bytes(), source=str(path))
    sites = [s for s in find_images(source.text, source=str(path)) if s.container == "app"]
    new = resolve_target(sites[0].image, "v2")
    result = apply_image(source.text, sites, new, source=str(path))
    if result.changed:
        path.write_bytes(source.encode(result.text))

Digest policy (see ``images.resolve_target``): a digest pins content and wins over the tag at
pull time, so writing a new image without a digest clears a stale one: the ``@sha256:...`` part of a
reference, a Helm ``digest``/``sha`` value, a kustomize ``digest`` value (set to ``""``).

Missing keys: a split or kustomize image without the key a new value needs (``tag``, ``digest``,
``newName``, ``newTag``) gets it as one new line at the mapping's indentation, after its last
entry (``, key: value`` in a flow mapping); when the mapping's shape makes that unsafe (its last
value is a nested block), the edit is refused with the key to add by hand.

Quoting: the scalar's quote style is kept; a plain value that would read back as something other
than a string under YAML 1.1 or 1.2 (``1.20``, ``010``, ``true``, ``yes``, ``1e3``) is written in
double quotes.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from gitops_release.images import ImageRef
from gitops_release.yaml.read import YamlError
from gitops_release.yaml.sites import ImageSite, Span, WorkloadRef
from gitops_release.yaml.spans import locate
from gitops_release.yaml.verify import FieldEdit, render, verify

# --- bytes <-> text ------------------------------------------------------------------------


# --- finding -------------------------------------------------------------------------------


def find_images(text: str, *, source: str) -> list[ImageSite]:
    """Every image site in ``text``, in file order, including ones that cannot be edited
    (their ``problem`` says why: placeholder, duplicate key, invalid value, block scalar).
    Raises YamlError (with line and column) for YAML that does not parse."""
    return locate(text, source=source)[0]


def find_workload_refs(text: str, *, source: str) -> list[WorkloadRef]:
    """Rollouts in ``text`` whose pod template is another object (``spec.workloadRef``): the
    image to edit is in that object (usually a Deployment), maybe in another file."""
    return locate(text, source=source)[1]


# --- editing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One site changed: ``old``/``new`` are full references as they resolve."""

    site: ImageSite
    old: str
    new: str
    edits: tuple[FieldEdit, ...]


@dataclass(frozen=True)
class EditResult:
    text: str
    changes: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


_LINES = re.compile(r"[^\n]*\n|[^\n]+")


def unified_diff(old: str, new: str, path: str) -> str:
    """A ``git diff``-style unified diff of one file (for ``--dry-run``)."""
    lines = difflib.unified_diff(
        _LINES.findall(old),  # split on \n only, as git does (not on \u2028, \x0c...)
        _LINES.findall(new),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    out = []
    for line in lines:
        out.append(
            line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"
        )
    return "".join(out)


def apply_image(
    text: str,
    sites: list[ImageSite],
    new: ImageRef,
    *,
    source: str,
    all_aliases: bool = False,
) -> EditResult:
    """Write ``new`` into every site of ``sites`` (found by ``find_images`` in this ``text``).

    Returns the new text and one Change per site whose value differs (none: ``changed`` False).
    The result is verified (re-parsed; only the intended scalars changed; bytes differ only
    inside their spans). Raises YamlError, returning nothing, when a site cannot be edited
    safely: its ``problem``, a value shared through an anchor (unless ``all_aliases``), a
    missing key that cannot be added (see ``ImageSite.slot``), stale sites, or a failed
    verification. A missing ``tag``/``digest``/``newName``/``newTag`` key is added as a new
    line at the mapping's indentation (or ``, key: value`` in a flow mapping).
    """
    edits: dict[tuple[int, str], FieldEdit] = {}
    changes: list[Change] = []
    for site in sites:
        if site.problem:
            raise YamlError(f"{source}:{site.line}: {site.problem}", hint="nothing was changed")
        if new.digest and site.form == "split" and site.field("digest") is None:
            _refuse_unread_digest(site, source)
        planned = _plan(site, new)
        site_edits: list[FieldEdit] = []
        for role, value in planned:
            edit = _field_edit(text, site, role, value, source)
            if edit is None:
                continue
            if edit.span.shared and not all_aliases:
                raise YamlError(
                    f"{source}:{edit.span.line}:{edit.span.column}: {edit.path} is shared through "
                    "a YAML anchor/alias or merge key; editing it would also change every alias",
                    hint="pass --all-aliases to change them all, or write the value out in place",
                )
            key = (edit.span.start, edit.new_key or "")
            previous = edits.get(key)
            if previous is not None and previous.value != value:
                raise YamlError(
                    f"{source}:{edit.span.line}: two sites want different values at {edit.path}"
                )
            edits[key] = edit
            site_edits.append(edit)
        if site_edits:
            changes.append(
                Change(site, site.current, _resolved(site, dict(planned)), tuple(site_edits))
            )
    if not edits:
        return EditResult(text, ())
    ordered = sorted(edits.values(), key=lambda e: e.span.start)  # stable: inserts keep order
    pieces: list[str] = []
    pos = 0
    for edit in ordered:
        if edit.span.start < pos:
            raise YamlError(f"{source}:{edit.span.line}: overlapping edits at {edit.path}")
        pieces += [text[pos : edit.span.start], edit.token]
        pos = edit.span.end
    pieces.append(text[pos:])
    new_text = "".join(pieces)
    verify(text, new_text, ordered, source=source)
    return EditResult(new_text, tuple(changes))


def _refuse_unread_digest(site: ImageSite, source: str) -> None:
    """Helm values are only what the chart's templates read: a new ``digest`` key would be
    read by none of them and the image would render unpinned (kustomize's ``digest`` and a
    one-string reference are read as written, so they take a digest)."""
    raise YamlError(
        f"{source}:{site.line}: {site.yaml_path} has no digest key, so no template reads a "
        "digest there: a pinned image would render unpinned",
        hint=f"have the chart read a digest (add `digest:` under {site.yaml_path} and "
        "append `@{{ .Values.<path>.digest }}` in the template) or write the image as one "
        "reference (`image: repo:tag@sha256:...`); or bump without --digest. Nothing was changed",
    )


_NULLS = ("~", "null", "Null", "NULL")
_KEYS = {k: k for k in ("repository", "tag", "digest", "newTag", "newName")}


def _field_edit(text: str, site: ImageSite, role: str, value: str, source: str) -> FieldEdit | None:
    """The edit that writes ``value`` as ``role`` of ``site`` (None: nothing to do)."""
    span = site.field(role)
    if span is not None:
        if not _still_there(text, span):
            raise YamlError(f"{source}: image sites are stale (the text changed since find_images)")
        if value == span.value:
            return None
        token = render(span, value)
        return FieldEdit(
            role, site.path_of(role), span, value, token, None, 1 if span.style == "null" else 0
        )
    if not value:
        return None  # nothing to clear
    key = _KEYS.get(role)
    slot = site.slot
    if key is None or slot is None:
        name = key or role
        raise YamlError(
            f"{source}:{site.line}: {site.yaml_path} has no {name} key and one cannot be added safely here",
            hint=f"add `{name}:` to {site.yaml_path} by hand; nothing was changed",
        )
    if slot.at > len(text) or (slot.suffix and text[slot.at - 1 : slot.at] not in ("\n", "\r")):
        raise YamlError(f"{source}: image sites are stale (the text changed since find_images)")
    column = slot.at - text.rfind("\n", 0, slot.at)
    span = Span(slot.at, slot.at, "", "insert", slot.line, column, slot.in_flow, slot.shared)
    value_token = render(Span(0, 0, "", "", 0, 0, slot.in_flow), value)
    head = f"{slot.prefix}{key}: "
    token = head + value_token + slot.suffix
    path = key if site.yaml_path == "(root)" else f"{site.yaml_path}.{key}"
    return FieldEdit(role, path, span, value, token, key, len(head))


def _still_there(text: str, span: Span) -> bool:
    """A cheap check that ``span`` was found in this very text."""
    token = text[span.start : span.end]
    if span.style == "null":
        return span.start > 0 and text[span.start - 1] == ":" and not token
    if span.style in ("'", '"'):
        return len(token) >= 2 and token[0] == token[-1] == span.style
    if span.style == "" and "\n" not in token and "\r" not in token:
        return token == span.value or (not span.value and token in _NULLS)
    return bool(token)


def _plan(site: ImageSite, new: ImageRef) -> list[tuple[str, str]]:
    """(role, new value) for every field of ``site`` that ``new`` determines."""
    if site.form == "reference":
        return [("image", str(new))]
    roles = {role for role, _ in site.fields}
    plan: list[tuple[str, str]] = []
    if site.form == "kustomize":
        name = site.field("name")
        current_name = (site.field("newName") or name or Span(0, 0, "", "", 0, 0)).value
        if new.name != _name_of(current_name):
            plan.append(("newName", new.name))
        tag_role = "newTag"
    else:
        plan += _plan_split_name(site, new)
        tag_role = "tag"
    if new.tag is not None:
        plan.append((tag_role, new.tag))
    elif tag_role in roles:
        plan.append((tag_role, ""))  # digest only: a kept tag would render `name:tag@digest`
    if new.digest is not None:
        plan.append(("digest", new.digest.split(":", 1)[1] if site.digest_hex_only else new.digest))
    elif "digest" in roles:
        plan.append(("digest", ""))  # a stale digest would win over the new tag at pull time
    return plan


def _name_of(reference: str) -> str:
    ref = reference.split("@", 1)[0]
    slash, colon = ref.rfind("/"), ref.rfind(":")
    return ref[:colon] if colon > slash else ref


def _plan_split_name(site: ImageSite, new: ImageRef) -> list[tuple[str, str]]:
    prefix = site.field("prefix")
    repo = site.field("repository")
    current = "/".join(s.value for s in (prefix, repo) if s is not None and s.value)
    if prefix is None and repo is None and site.current:
        current = _name_of(site.current)  # only `tag` here: the name is set in another file
    if new.name == current:
        return []
    if repo is None:
        # `{hub, tag}`: the hub is the whole name; `{tag}` alone: a repository key is added
        return [("prefix" if prefix is not None else "repository", new.name)]
    if prefix is None:
        return [("repository", new.name)]
    if prefix.value and new.name.startswith(prefix.value + "/"):
        return [("repository", new.name[len(prefix.value) + 1 :])]
    return [("prefix", new.registry or ""), ("repository", new.repository)]


def _resolved(site: ImageSite, planned: dict[str, str]) -> str:
    """The full reference the site resolves to after the planned writes."""
    values = {role: span.value for role, span in site.fields} | planned
    if site.form == "reference":
        return values["image"]
    if site.form == "kustomize":
        ref = values.get("newName") or values.get("name", "")
        tag = values.get("newTag", "")
    else:
        ref = "/".join(v for v in (values.get("prefix", ""), values.get("repository", "")) if v)
        ref = ref or _name_of(site.current)
        tag = values.get("tag", "")
    digest = values.get("digest", "")
    if digest and site.digest_hex_only:
        digest = f"sha256:{digest}"
    return ref + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
