"""Locate image references in YAML text by meaning, as character spans (with ``yaml.edit`` and
``yaml.verify``, the only importers of ruamel).

We parse with the composer (a node tree with marks), never the constructor: a duplicate key or a
``{{args.x}}`` complex key must not stop the locating, and aliases stay shared nodes instead of
being expanded (a billion-laughs document costs its size, not its expansion). Every site records
the exact spans of its scalars so that ``yaml.edit`` can splice new values into the original text.

Where images live (``reference/yaml-editing.md`` section 6):
- Kubernetes objects: every ``containers``/``initContainers``/``ephemeralContainers`` list
  (Rollout, Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod, ReplicationController, pod
  templates nested anywhere), and any other ``image:`` key (e.g. a Prometheus CR ``spec.image``).
  ``status`` and ``metadata`` (with its ``last-applied-configuration`` annotation) are never read.
- Kustomizations: ``images[].{name,newName,newTag,digest}``.
- Helm values and other files: ``image: "repo:tag"``, ``image: {registry, repository, tag,
  digest}``, ``image: {name, tag}``, ``{hub, tag}`` (+ ``image``), ``{registry, image, tag}``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitops_release.errors import UsageError
from gitops_release.images import is_placeholder, parse_image
from gitops_release.yaml.read import YamlError, c_loadable
from gitops_release.yaml.sites import ImageSite, Slot, Span, WorkloadRef

STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
CONTAINER_KEYS = ("containers", "initContainers", "ephemeralContainers")
_BREAK = re.compile(r"\r\n|\n|\r")  # the line breaks we write back (as found)
_PROPERTIES_RE = re.compile(r"(?:(?:&[^\s]+|![^\s]*)[ \t]+)+")


@dataclass(frozen=True)
class Document:
    """One composed document and where its text ends (its region starts where the previous
    document's ends, at 0 for the first; the last one runs to the end of the text)."""

    root: Node | None
    end: int


def compose_all(text: str, *, source: str) -> list[Node | None]:
    """The node tree of every document (None for an empty one); YamlError with file:line:col."""
    return [doc.root for doc in compose_documents(text, source=source)]


def compose_documents(text: str, *, source: str) -> tuple[Document, ...]:
    """Every document with its region. The last few results are cached (trees are only read,
    never changed): ``apply_image`` re-reads the text that ``find_images`` just composed, and
    composing a 200 KB values file takes a noticeable fraction of a second in pure Python."""
    return _compose_cached(text, source)


@lru_cache(maxsize=4)
def _compose_cached(text: str, source: str) -> tuple[Document, ...]:
    if fast_composable(text):
        try:
            return compose_fast(text)
        except Exception:  # the pure composer gives the verdict, and its words
            pass
    return compose_pure(text, source)


def fast_composable(text: str) -> bool:
    """True when the C composer (ruamel.yaml.clib, libyaml) gives the same tree as the pure one:
    the text is ASCII (libyaml's marks count bytes, Python's characters) and ``c_loadable``
    (installed, nesting provably shallow). ``tests/yaml/test_fast_compose.py`` holds the two
    equal on the corpus of real manifests."""
    return text.isascii() and c_loadable(text)


def compose_fast(text: str) -> tuple[Document, ...]:
    """Every document with its region, by libyaml: ~3x the pure composer (a release set of 50
    apps composes 100 files). A plain scalar's style is ``""`` here and None in the pure
    composer: read it as falsy. Raises on anything libyaml rejects (the caller then asks the
    pure composer)."""
    from ruamel.yaml import YAML

    loader, _ = YAML(typ="safe", pure=False).get_constructor_parser(text)
    roots: list[Node | None] = []
    try:
        while loader.check_node():
            roots.append(loader.get_node())
    finally:
        loader.dispose()
    if len(roots) <= 1 and not _MARKERS.search(text):
        return tuple(Document(root, len(text)) for root in roots)  # one document: no regions
    ends = _document_ends(text)
    if len(roots) != len(ends):
        raise ValueError("documents and document ends disagree")
    return tuple(Document(root, end) for root, end in zip(roots, ends, strict=True))


# Where a second document (or an explicit end) can begin: `---` or `...` at a line's start.
_MARKERS = re.compile(r"(?:^|[\r\n])(?:---|\.\.\.)")


def _document_ends(text: str) -> list[int]:
    """Each DOCUMENT-END event's end, by libyaml (its composer consumes those events)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.events import DocumentEndEvent, StreamEndEvent

    events, _ = YAML(typ="safe", pure=False).get_constructor_parser(text)
    ends: list[int] = []
    try:
        while True:
            event = events.get_event()
            if isinstance(event, DocumentEndEvent):
                ends.append(event.end_mark.index)
            elif event is None or isinstance(event, StreamEndEvent):
                return ends
    finally:
        events.dispose()


def compose_pure(text: str, source: str) -> tuple[Document, ...]:
    """Every document with its region, by ruamel's pure-Python composer: the reference, and the
    one whose errors we show (file:line:col and the parser's words)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.docinfo import DocInfo, version
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    yaml = YAML(typ="safe", pure=True)
    parser = None
    docs: list[Document] = []
    try:
        # What YAML.load_all does around Composer.compose_document (a DocInfo per document
        # records its %YAML directive), keeping the DOCUMENT-END event's position.
        yaml.doc_infos.append(DocInfo(requested_version=version(yaml.version)))
        yaml.tags = {}
        constructor, parser = yaml.get_constructor_parser(text)
        composer = constructor.composer
        while composer.check_node():
            composer.anchors = {}
            parser.get_event()
            with warnings.catch_warnings():  # a reused anchor name is legal YAML: no noise
                warnings.simplefilter("ignore")
                root = composer.compose_node(None, None)
            end = parser.get_event().end_mark.index
            docs.append(Document(root, end))
            yaml.doc_infos.append(DocInfo(requested_version=version(yaml.version)))
        return tuple(docs)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = _one_line(err.problem or err.context or "invalid YAML")
        raise YamlError(f"{where}: {problem}", hint="fix the YAML syntax first") from None
    except ReaderError as err:
        at = err.position if isinstance(err.position, int) else 0
        line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
        code = (
            err.character if isinstance(err.character, int) else ord(str(err.character)[:1] or "?")
        )
        raise YamlError(
            f"{source}:{line}:{column}: character U+{code:04X} is not allowed in YAML",
            hint="remove control characters from the file",
        ) from None
    except YAMLError as err:
        lines = str(err).strip().splitlines()
        raise YamlError(f"{source}: {lines[0] if lines else 'invalid YAML'}") from None
    except RecursionError:
        raise YamlError(f"{source}: YAML nested too deeply to read safely") from None
    except Exception as err:  # the parser's own bugs on odd input: still "cannot read"
        raise YamlError(
            f"{source}: the YAML parser failed ({type(err).__name__}: {_one_line(str(err))})",
            hint="simplify the file around its directives or anchors; nothing was changed",
        ) from None
    finally:
        if parser is not None:
            parser.dispose()


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300] or "invalid YAML"


def count_references(root: Node) -> dict[int, int]:
    """How many times each node is reached (an anchor plus its aliases count more than once).
    Iterative and visiting each node's children once, so alias bombs stay linear."""
    counts: dict[int, int] = {id(root): 1}
    stack = [root]
    while stack:
        node = stack.pop()
        for child in _children(node):
            seen = counts.get(id(child), 0)
            counts[id(child)] = seen + 1
            if not seen:
                stack.append(child)
    return counts


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value
    elif isinstance(node, SequenceNode):
        yield from node.value


def scalar_text(node: Node | None) -> str | None:
    """A scalar node's value when it is a string (or null as ''), else None."""
    if isinstance(node, ScalarNode) and node.tag in (STR_TAG, NULL_TAG):
        return str(node.value)
    return None


@dataclass
class _Entry:
    key: ScalarNode
    value: Node
    owner: MappingNode
    merged: bool


def mapping_entries(
    node: MappingNode,
    duplicates: set[str],
    _seen: frozenset[int] = frozenset(),
    shadowed: list[tuple[str, _Entry]] | None = None,
) -> dict[str, _Entry]:
    """Keys of a mapping with merge keys (``<<``) applied (own keys win); string keys only.
    Duplicated own keys are added to ``duplicates``. Each merged mapping counts once, so
    chains of merges stay linear."""
    if len(_seen) > 64:
        raise YamlError("merge keys (<<) nested too deeply to edit safely")
    own: dict[str, _Entry] = {}
    merged: dict[str, _Entry] = {}
    for key, value in node.value:
        if not isinstance(key, ScalarNode):
            continue
        if key.tag == "tag:yaml.org,2002:merge" or (key.value == "<<" and not key.style):
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode) and id(source) not in _seen:
                    _seen = _seen | {id(source)}
                    for name, entry in mapping_entries(source, duplicates, _seen).items():
                        merged.setdefault(name, _Entry(entry.key, entry.value, entry.owner, True))
            continue
        name = str(key.value)
        if name in own:
            duplicates.add(name)
            if shadowed is not None:
                shadowed.append((name, own[name]))
        own[name] = _Entry(key, value, node, False)
    return {**merged, **own}


@dataclass(frozen=True)
class _Context:
    path: str
    shared: bool
    kind: str
    object_name: str | None
    problem: str | None

    def child(self, key: str, *, shared: bool = False, problem: str | None = None) -> _Context:
        if not key or key.startswith("["):
            path = self.path + key
        else:
            path = f"{self.path}.{key}" if self.path else key
        return _Context(
            path, self.shared or shared, self.kind, self.object_name, self.problem or problem
        )


def _split_roles(entries: dict[str, _Entry], under_image: bool) -> list[tuple[str, str]]:
    """(role, key) pairs when a mapping is a Helm-style image, else []."""
    scalars = {k for k, e in entries.items() if isinstance(e.value, ScalarNode)}
    has = scalars.__contains__
    named = has("repository") or has("hub") or has("image")
    if not ((has("tag") and named) or (under_image and (named or has("name") or has("tag")))):
        return []
    roles: list[tuple[str, str]] = []
    prefix = "registry" if has("registry") else "hub" if has("hub") else None
    if prefix:
        roles.append(("prefix", prefix))
    for key in ("repository", "image", "name"):
        if has(key) and (key != "name" or under_image):
            roles.append(("repository", key))
            break
    for role, key in (("tag", "tag"), ("digest", "digest"), ("digest", "sha")):
        if has(key) and all(r != role for r, _ in roles):
            roles.append((role, key))
    return roles


class Locator:
    """Walk one document and collect its image sites."""

    def __init__(self, text: str, source: str, document: int, root: Node) -> None:
        self.text = text
        self.source = source
        self.document = document
        self.counts = count_references(root)
        self.sites: list[ImageSite] = []
        self.seen_spans: set[tuple[int, int]] = set()
        self.walked: set[int] = set()

    def is_shared(self, node: Node) -> bool:
        return self.counts.get(id(node), 1) > 1

    def span(self, entry: _Entry, shared: bool) -> Span:
        node = entry.value
        assert isinstance(node, ScalarNode)
        shared = shared or entry.merged or self.is_shared(node) or self.is_shared(entry.owner)
        in_flow = bool(entry.owner.flow_style)
        if node.tag == NULL_TAG and not node.style and not node.value:
            # `key:` with no value: the node's marks point at the next token; insert after ':'.
            colon = self.text.find(":", entry.key.end_mark.index)
            if colon == -1 or colon >= max(node.start_mark.index, entry.key.end_mark.index + 1):
                line = entry.key.start_mark.line + 1
                raise YamlError(
                    f"{self.source}:{line}: key {entry.key.value!r} has no value and no ':' to put one after",
                    hint="write it as `key:` (not `? key`)",
                )
            return self._span(colon + 1, colon + 1, "", "null", in_flow, shared)
        start, end = node.start_mark.index, node.end_mark.index
        if self.text[start : start + 1] in ("&", "!"):
            props = _PROPERTIES_RE.match(self.text, start)
            start = props.end() if props else start
        value = "" if node.tag == NULL_TAG else str(node.value)  # `~`, `null`: no value yet
        return self._span(start, end, value, node.style or "", in_flow, shared)

    def _span(self, start: int, end: int, value: str, style: str, flow: bool, shared: bool) -> Span:
        line_start = self.text.rfind("\n", 0, start) + 1
        line = self.text.count("\n", 0, start) + 1
        return Span(start, end, value, style, line, start - line_start + 1, flow, shared)

    def walk(self, node: Node, ctx: _Context, depth: int = 0) -> None:
        if depth > 200:
            raise YamlError(f"{self.source}: YAML nested too deeply to edit safely")
        if id(node) in self.walked:
            return  # reached again through an alias: walked once (aliases are never expanded)
        self.walked.add(id(node))
        ctx = ctx.child("", shared=self.is_shared(node)) if self.is_shared(node) else ctx
        if isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self.walk(item, ctx.child(f"[{index}]"), depth + 1)
            return
        if not isinstance(node, MappingNode):
            return
        duplicates: set[str] = set()
        shadowed: list[tuple[str, _Entry]] = []
        entries = mapping_entries(node, duplicates, shadowed=shadowed)
        is_object = "kind" in entries and "apiVersion" in entries
        if is_object:
            kind = scalar_text(entries["kind"].value) or ctx.kind
            ctx = _Context(ctx.path, ctx.shared, kind, _object_name(entries), ctx.problem)
        last = ctx.path.rsplit(".", 1)[-1].split("[", 1)[0]
        roles = _split_roles(entries, last.lower().endswith("image"))
        if roles:
            self.split_site(node, entries, duplicates, roles, ctx)
        used = {key for _, key in roles}
        for name, entry in [*shadowed, *entries.items()]:
            if name in used:
                continue
            if is_object and name in ("status", "metadata"):
                continue  # live state and last-applied-configuration are not ours to edit
            dup = _duplicate(name, ctx.child(name).path) if name in duplicates else None
            child = ctx.child(name, shared=entry.merged, problem=dup)
            if name in CONTAINER_KEYS and isinstance(entry.value, SequenceNode):
                self.containers(entry.value, child)
            elif name == "image" and isinstance(entry.value, ScalarNode):
                self.reference_site(entry, child, None)
            elif isinstance(entry.value, (MappingNode, SequenceNode)):
                self.walk(entry.value, child, depth + 1)

    def containers(self, seq: SequenceNode, ctx: _Context) -> None:
        ctx = ctx.child("", shared=self.is_shared(seq)) if self.is_shared(seq) else ctx
        for index, item in enumerate(seq.value):
            if not isinstance(item, MappingNode):
                continue
            duplicates: set[str] = set()
            entries = mapping_entries(item, duplicates)
            image = entries.get("image")
            if image is None or not isinstance(image.value, ScalarNode):
                continue
            name_entry = entries.get("name")
            container = scalar_text(name_entry.value) if name_entry else None
            twice = sorted({"image", "name"} & duplicates)
            dup = _duplicate(twice[0], f"{ctx.path}[{index}]") if twice else None
            child = ctx.child(f"[{index}]", shared=self.is_shared(item), problem=dup)
            self.reference_site(image, child.child("image"), container)

    def add(self, site: ImageSite) -> None:
        spans = {(span.start, span.end) for _, span in site.fields}
        if spans & self.seen_spans:
            return  # the same nodes reached again through an alias
        self.seen_spans.update(spans)
        self.sites.append(site)

    def check(self, current: str, path: str) -> str | None:
        try:
            parse_image(current, what=path)
        except UsageError as err:
            return err.message
        return None

    def reference_site(self, entry: _Entry, ctx: _Context, container: str | None) -> None:
        value = scalar_text(entry.value)
        if value is None or not value.strip():
            return  # `image: 3` or `image: ""` is not an image
        span = self.span(entry, ctx.shared)
        problem = ctx.problem or _value_problem(span, ctx.path)
        problem = problem or self.check(value, ctx.path)
        self.add(
            ImageSite(
                self.source,
                self.document,
                ctx.path,
                ctx.kind or "helm-values",
                container,
                value,
                "reference",
                (("image", span),),
                ctx.object_name,
                False,
                problem,
                (("image", ctx.path),),
            )
        )

    def slot(self, node: MappingNode, shared: bool) -> Slot | None:
        """Where a new key can be added to ``node``: after its last entry, when that entry's
        value is a one-line scalar (so "the end of its line" is well defined)."""
        if not node.value:
            return None
        first_key, _ = node.value[0]
        _, last = node.value[-1]
        if not isinstance(last, ScalarNode) or last.style in ("|", ">") or not last.value:
            return None
        end = last.end_mark.index
        shared = shared or self.is_shared(node)
        line = self.text.count("\n", 0, end) + 1
        if node.flow_style:
            # `{a: 1}` can take `, b: 2`; a brace-less single pair in a flow sequence
            # (`[a: 1]`) cannot (it would become a second item)
            braced = self.text[node.end_mark.index - 1 : node.end_mark.index] == "}"
            return Slot(end, ", ", "", line, True, shared) if braced else None
        if _BREAK.search(self.text, last.start_mark.index, end):
            return None  # a multi-line scalar: keep it simple
        indent = " " * first_key.start_mark.column
        newline = _BREAK.search(self.text, end)
        if newline is None:  # the last line of a file without a final line break
            first = _BREAK.search(self.text)
            eol = first.group() if first else "\n"
            return Slot(len(self.text), eol + indent, "", line, False, shared)
        return Slot(newline.end(), indent, newline.group(), line + 1, False, shared)

    def split_site(
        self,
        node: MappingNode,
        entries: dict[str, _Entry],
        duplicates: set[str],
        roles: list[tuple[str, str]],
        ctx: _Context,
    ) -> None:
        """A Helm-style image mapping (registry/hub, repository/image/name, tag, digest/sha)."""
        fields: list[tuple[str, Span]] = []
        key_paths: list[tuple[str, str]] = []
        problem = ctx.problem
        for role, key in roles:
            path = ctx.child(key).path
            span = self.span(entries[key], ctx.shared)
            fields.append((role, span))
            key_paths.append((role, path))
            if key in duplicates:
                problem = problem or _duplicate(key, path)
            problem = problem or _value_problem(span, path)
        values = {role: span.value for role, span in fields}
        name = "/".join(v for v in (values.get("prefix", ""), values.get("repository", "")) if v)
        current = name + (f":{values['tag']}" if values.get("tag") else "")
        digest = values.get("digest", "")
        hex_only = dict((r, k) for r, k in roles).get("digest") == "sha" and ":" not in digest
        if digest:
            current += f"@sha256:{digest}" if hex_only else f"@{digest}"
        if not name:
            current = ""  # the chart names the image elsewhere: nothing to resolve here
        if problem is None and name:
            problem = self.check(current, ctx.path)
        self.add(
            ImageSite(
                self.source,
                self.document,
                ctx.path or "(root)",
                ctx.kind or "helm-values",
                None,
                current,
                "split",
                tuple(fields),
                ctx.object_name,
                hex_only,
                problem,
                tuple(key_paths),
                self.slot(node, ctx.shared),
            )
        )

    def kustomize(self, entries: dict[str, _Entry], duplicates: set[str]) -> None:
        images = entries.get("images")
        if images is None or not isinstance(images.value, SequenceNode):
            return
        problem = _duplicate("images", "images") if "images" in duplicates else None
        for index, item in enumerate(images.value.value):
            if not isinstance(item, MappingNode):
                continue
            item_dups: set[str] = set()
            fields_in = mapping_entries(item, item_dups)
            if "name" not in fields_in:
                continue
            path = f"images[{index}]"
            fields: list[tuple[str, Span]] = []
            key_paths: list[tuple[str, str]] = []
            item_problem = problem
            shared = self.is_shared(images.value) or self.is_shared(item)
            for key in ("name", "newName", "newTag", "digest"):
                entry = fields_in.get(key)
                if entry is None or not isinstance(entry.value, ScalarNode):
                    continue
                span = self.span(entry, shared)
                fields.append((key, span))
                key_paths.append((key, f"{path}.{key}"))
                if key in item_dups:
                    item_problem = item_problem or _duplicate(key, path)
                item_problem = item_problem or _value_problem(span, f"{path}.{key}")
            values = {role: span.value for role, span in fields}
            current = values.get("newName") or values.get("name", "")
            current += f":{values['newTag']}" if values.get("newTag") else ""
            current += f"@{values['digest']}" if values.get("digest") else ""
            if item_problem is None:
                item_problem = self.check(current, path)
            self.add(
                ImageSite(
                    self.source,
                    self.document,
                    path,
                    "kustomization",
                    None,
                    current,
                    "kustomize",
                    tuple(fields),
                    None,
                    False,
                    item_problem,
                    tuple(key_paths),
                    self.slot(item, shared),
                )
            )


def _object_name(entries: dict[str, _Entry]) -> str | None:
    meta = entries.get("metadata")
    if meta is None or not isinstance(meta.value, MappingNode):
        return None
    name = mapping_entries(meta.value, set()).get("name")
    return scalar_text(name.value) if name else None


def _duplicate(key: str, path: str) -> str:
    return f"duplicate key {key!r} at {path}: remove one (Kubernetes silently keeps the last)"


def _value_problem(span: Span, path: str) -> str | None:
    if is_placeholder(span.value):
        return f"{path} is a template placeholder ({span.value!r}), not an image to edit"
    if span.style in ("|", ">"):
        return f"{path} is a block scalar; write the image on one line to edit it"
    return None


def _is_kustomization(entries: dict[str, _Entry]) -> bool:
    kind = scalar_text(entries["kind"].value) if "kind" in entries else None
    if kind in ("Kustomization", "Component"):
        api = scalar_text(entries["apiVersion"].value) if "apiVersion" in entries else ""
        return not api or api.startswith("kustomize.config.k8s.io")
    if kind is not None:
        return False
    # No kind (older kustomizations): an `images:` list of kustomize entries says it.
    images = entries.get("images")
    if images is None or not isinstance(images.value, SequenceNode):
        return False
    for item in images.value.value:
        if isinstance(item, MappingNode):
            keys = mapping_entries(item, set())
            if "name" in keys and ({"newName", "newTag", "digest"} & set(keys)):
                return True
    return False


def locate(text: str, *, source: str) -> tuple[list[ImageSite], list[WorkloadRef]]:
    """Every image site and every Rollout ``workloadRef`` in ``text``, in file order."""
    sites: list[ImageSite] = []
    refs: list[WorkloadRef] = []
    for index, root in enumerate(compose_all(text, source=source)):
        if root is None:
            continue
        locator = Locator(text, source, index, root)
        if isinstance(root, MappingNode):
            duplicates: set[str] = set()
            entries = mapping_entries(root, duplicates)
            if _is_kustomization(entries):
                locator.kustomize(entries, duplicates)
                sites.extend(locator.sites)
                continue
            refs.extend(_workload_ref(entries, source, index))
        try:
            locator.walk(root, _Context("", False, "", None, None))
        except RecursionError:
            raise YamlError(f"{source}: YAML nested too deeply to edit safely") from None
        sites.extend(locator.sites)
    sites.sort(key=lambda site: (site.document, min((s.start for _, s in site.fields), default=0)))
    return sites, refs


def _workload_ref(entries: dict[str, _Entry], source: str, index: int) -> list[WorkloadRef]:
    if scalar_text(entries["kind"].value if "kind" in entries else None) != "Rollout":
        return []
    spec = entries.get("spec")
    if spec is None or not isinstance(spec.value, MappingNode):
        return []
    ref = mapping_entries(spec.value, set()).get("workloadRef")
    if ref is None or not isinstance(ref.value, MappingNode):
        return []
    fields = mapping_entries(ref.value, set())
    get: dict[str, Any] = {k: scalar_text(e.value) for k, e in fields.items()}
    rollout = _object_name(entries)
    return [
        WorkloadRef(
            source,
            index,
            rollout,
            get.get("kind") or "Deployment",
            get.get("name") or "",
            get.get("apiVersion"),
        )
    ]
