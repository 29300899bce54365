"""Fuzz ``yamledit`` with Hypothesis.

1. Random YAML files (workloads of every kind, kustomizations, Helm values; multi-document; random
   indentation, dash offsets, flow or block container lists, quote styles, comments on the image
   line, blank lines, CRLF, BOM, ``---``/``...``, missing final newline) with images in known
   places: bumping one changes only the spliced spans, and the file re-parses to the intended
   data (the old data with exactly that value replaced).
2. Broken input (random text, random bytes, mutated valid files): the editor raises nothing but
   its own YamlError.

``FUZZ_EXAMPLES`` raises the number of examples (default kept small for the everyday run).
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gitops_release.images import ImageRef, parse_image, resolve_target
from gitops_release.yaml.edit import EditResult, apply_image, find_images
from gitops_release.yaml.read import YamlError, load_all, read_text

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

WORKLOADS = {
    "Deployment": ("apps/v1", ["spec", "template", "spec"]),
    "StatefulSet": ("apps/v1", ["spec", "template", "spec"]),
    "DaemonSet": ("apps/v1", ["spec", "template", "spec"]),
    "Rollout": ("argoproj.io/v1alpha1", ["spec", "template", "spec"]),
    "Job": ("batch/v1", ["spec", "template", "spec"]),
    "CronJob": ("batch/v1", ["spec", "jobTemplate", "spec", "template", "spec"]),
    "Pod": ("v1", ["spec"]),
}
names = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6).map(lambda s: "c" + s)
tags = st.one_of(
    st.from_regex(r"\A[a-z0-9][a-z0-9.-]{0,12}\Z"),
    st.sampled_from(
        ["1.20", "010", "true", "yes", "1e3", "null", "v1", "latest", "2.0.0-rc.1", "1_000"]
    ),
)
digests = st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"sha256:{h}")
repositories = st.lists(names, min_size=1, max_size=3).map("/".join)
registries = st.one_of(
    st.none(), st.sampled_from(["ghcr.io", "docker.io", "reg.example.com:5000", "localhost:5000"])
)
comments = st.one_of(
    st.just(""), st.sampled_from(["  # pinned", ' # {"$imagepolicy": "ns:p"}', "   # größe ✓ 中文"])
)


@st.composite
def images(draw: st.DrawFn) -> str:
    ref = ImageRef(draw(repositories), draw(registries), draw(st.one_of(st.none(), tags)))
    if draw(st.booleans()) and draw(st.booleans()):
        ref = ref.with_tag(ref.tag or "v1", draw(digests))
    return str(ref)


def scalar(draw: st.DrawFn, value: str, *, flow: bool = False) -> str:
    """``value`` written so that it reads back as the string ``value``."""
    plain_safe = re.fullmatch(r"[a-z][a-z0-9./:@_-]*", value) and not re.fullmatch(
        r"(?i)(y|n|yes|no|on|off|true|false|null)", value
    )
    style = draw(st.sampled_from(["plain", "single", "double"]))
    if style == "plain" and plain_safe and not (flow and any(c in value for c in ",[]{}")):
        return value
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Doc:
    lines: list[str]
    # (path in the loaded data, image as written) for every image in the document
    images: list[tuple[tuple[Any, ...], str]]
    form: str


@st.composite
def workload(draw: st.DrawFn) -> Doc:
    kind = draw(st.sampled_from(sorted(WORKLOADS)))
    api, path = WORKLOADS[kind]
    ind = draw(st.sampled_from([2, 4]))
    dash = draw(st.sampled_from([0, ind]))  # `- ` at the key's column, or indented
    lines = [f"apiVersion: {api}", f"kind: {kind}", "metadata:", f"{' ' * ind}name: app"]
    found: list[tuple[tuple[Any, ...], str]] = []
    depth = 0
    for key in path:
        lines.append(f"{' ' * ind * depth}{key}:")
        depth += 1
    pad = " " * ind * depth
    for list_key in draw(st.sampled_from([["containers"], ["initContainers", "containers"]])):
        containers = draw(
            st.lists(st.tuples(names, images()), min_size=1, max_size=3, unique_by=lambda c: c[0])
        )
        if draw(st.booleans()):  # flow style
            items = ", ".join(
                f"{{name: {n}, image: {scalar(draw, i, flow=True)}}}" for n, i in containers
            )
            lines.append(f"{pad}{list_key}: [{items}]{draw(comments)}")
        else:
            lines.append(f"{pad}{list_key}:")
            for name, image in containers:
                lines.append(f"{pad}{' ' * dash}- name: {name}")
                if draw(st.booleans()):
                    lines.append("")
                lines.append(f"{pad}{' ' * dash}  image: {scalar(draw, image)}{draw(comments)}")
                lines.append(f"{pad}{' ' * dash}  ports: [{{containerPort: 80}}]")
        for index, (_, image) in enumerate(containers):
            found.append(((*tuple(path), list_key, index, "image"), image))
    lines += [
        "status:",
        f"{' ' * ind}containerStatuses:",
        f"{' ' * ind}- image: status/not-ours:v0",
    ]
    return Doc(lines, found, "reference")


@st.composite
def values(draw: st.DrawFn) -> Doc:
    registry = draw(st.sampled_from(["docker.io", "ghcr.io"]))
    repository = draw(repositories)
    tag = draw(tags)
    ind = " " * draw(st.sampled_from([2, 4]))
    lines = [
        "# Default values",
        "replicaCount: 1",
        "",
        f"image:{draw(comments)}",
        f"{ind}registry: {scalar(draw, registry)}",
        f"{ind}repository: {scalar(draw, repository)}{draw(comments)}",
        f"{ind}tag: {scalar(draw, tag)}{draw(comments)}",
        f"{ind}pullPolicy: IfNotPresent",
        "service: {type: ClusterIP, port: 80}",
    ]
    return Doc(lines, [(("image",), f"{registry}/{repository}:{tag}")], "split")


@st.composite
def kustomization(draw: st.DrawFn) -> Doc:
    name = draw(repositories)
    new_name = draw(st.one_of(st.none(), repositories))
    tag = draw(tags)
    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "resources:",
        "- rollout.yaml",
        "images:",
    ]
    lines.append(f"- name: {scalar(draw, name)}")
    if new_name:
        lines.append(f"  newName: {scalar(draw, new_name)}{draw(comments)}")
    lines.append(f"  newTag: {scalar(draw, tag)}{draw(comments)}")
    return Doc(lines, [(("images", 0), f"{new_name or name}:{tag}")], "kustomize")


@st.composite
def values_reference(draw: st.DrawFn) -> Doc:
    """Helm values with whole references (``image: "repo:tag"``) nested at random depths."""
    lines = ["# values"]
    found: list[tuple[tuple[Any, ...], str]] = []
    for key in draw(st.lists(names, min_size=1, max_size=3, unique=True)):
        image = draw(images())
        if draw(st.booleans()):
            lines += [f"{key}:", f"  image: {scalar(draw, image)}{draw(comments)}", "  replicas: 2"]
        else:
            lines += [f"{key}: {{image: {scalar(draw, image, flow=True)}, replicas: 2}}"]
        found.append(((key, "image"), image))
    return Doc(lines, found, "reference")


@dataclass
class File:
    data: bytes
    docs: list[Doc]


@st.composite
def files(draw: st.DrawFn) -> File:
    docs = draw(
        st.lists(
            st.one_of(workload(), values(), kustomization(), values_reference()),
            min_size=1,
            max_size=3,
        )
    )
    if any(d.form == "kustomize" for d in docs):
        docs = [next(d for d in docs if d.form == "kustomize")]  # a kustomization is a file
    parts: list[str] = []
    if draw(st.booleans()):
        parts.append("---")
    for index, doc in enumerate(docs):
        if index:
            parts.append(draw(st.sampled_from(["---", "...\n---", "--- # next"])))
        parts += doc.lines
    text = "\n".join(parts)
    if draw(st.booleans()):
        text += "\n"
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    data = text.encode()
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return File(data, docs)


def spliced(old: str, result: EditResult) -> str:
    edits = sorted((e for c in result.changes for e in c.edits), key=lambda e: e.span.start)
    out, pos = [], 0
    for edit in edits:
        assert edit.span.start >= pos
        out += [old[pos : edit.span.start], edit.token]
        pos = edit.span.end
    return "".join(out) + old[pos:]


def put(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


@FUZZ
@given(files(), st.data())
def test_an_edit_changes_only_its_spans_and_reads_back_as_intended(
    file: File, data: st.DataObject
) -> None:
    source = read_text(file.data, source="f.yaml")
    text = source.text
    sites = find_images(text, source="f.yaml")
    expected = [(n, path, image) for n, doc in enumerate(file.docs) for path, image in doc.images]
    assert [s.current for s in sites] == [image for _, _, image in expected]
    assert all(s.problem is None and not s.shared for s in sites)
    number = data.draw(st.integers(0, len(sites) - 1))
    site = sites[number]
    doc_index, path, image = expected[number]
    current = parse_image(image)
    target = data.draw(tags)
    if data.draw(st.booleans()) and data.draw(st.booleans()):  # sometimes a new repository too
        target = f"{data.draw(registries) or 'ghcr.io'}/{data.draw(repositories)}:{target}"
    new = resolve_target(current, target, data.draw(st.one_of(st.none(), digests)))

    if new.digest and site.form == "split" and site.field("digest") is None:
        # Helm values with no digest key: no template would read a new one (issue 13)
        with pytest.raises(YamlError, match="has no digest key"):
            apply_image(text, [site], new, source="f.yaml")
        return
    result = apply_image(text, [site], new, source="f.yaml")

    assert result.text == spliced(text, result)  # bytes outside the spans are untouched
    assert source.encode(result.text).startswith(b"\xef\xbb\xbf") == source.bom
    assert ("\r\n" in result.text) == ("\r\n" in text)
    if new == current:
        assert not result.changed and result.text == text
        return
    before = load_all(text, source="f.yaml")
    after = load_all(result.text, source="f.yaml")
    want = copy.deepcopy(before)
    if site.form == "reference":
        put(want[doc_index], path, str(new))
    else:
        # the image mapping: old keys kept (values may change), only image keys added
        old_map, new_map = get(before[doc_index], path), get(after[doc_index], path)
        assert list(new_map)[: len(old_map)] == list(old_map)
        assert set(new_map) - set(old_map) <= {"tag", "digest", "newName", "newTag"}
        assert all(isinstance(new_map[k], str) for k in set(new_map) - {"pullPolicy"})
        put(want[doc_index], path, new_map)
    assert after == want  # nothing else changed
    (again,) = [
        s
        for s in find_images(result.text, source="f.yaml")
        if s.yaml_path == site.yaml_path and s.document == site.document
    ]
    assert again.image == new


def get(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def _mutate(text: str, cuts: list[tuple[int, int, str]]) -> str:
    for position, length, insert in cuts:
        at = position % (len(text) + 1)
        text = text[:at] + insert + text[at + length :]
    return text


@FUZZ
@given(
    files(),
    st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.integers(0, 4),
            st.sampled_from(
                [
                    "",
                    ":",
                    "-",
                    "'",
                    '"',
                    "&a ",
                    "*a",
                    "\n",
                    "  ",
                    "{",
                    "]",
                    "#",
                    "<<: ",
                    "---\n",
                    "%YAML 1.1\n---\n",
                    "%TAG !e! tag:e.com,2000:\n--- !e!x\n",
                    "!!str ",
                    "? ",
                    "\t",
                    "\x00",
                    "%",
                ]
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    tags,
)
def test_mutated_files_raise_only_yaml_errors(
    file: File, cuts: list[tuple[int, int, str]], tag: str
) -> None:
    text = _mutate(file.data.decode("utf-8-sig"), cuts)
    try:
        sites = find_images(text, source="m.yaml")
        for site in sites:
            ref = site.image or parse_image("example.com/app:v1")
            result = apply_image(text, [site], ref.with_tag(tag), source="m.yaml", all_aliases=True)
            assert result.text == spliced(text, result)
    except YamlError as err:
        assert err.exit_code == 2 and "\n" not in err.message


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    )
)
def test_random_input_raises_only_yaml_errors(data: bytes) -> None:
    try:
        source = read_text(data, source="r.yaml")
        for site in find_images(source.text, source="r.yaml"):
            ref = site.image or parse_image("example.com/app:v1")
            apply_image(source.text, [site], ref.with_tag("v2"), source="r.yaml", all_aliases=True)
    except YamlError as err:
        assert err.exit_code == 2


@FUZZ
@given(images(), images(), st.sampled_from([0, 2, 4]), tags)
def test_shared_images_change_only_with_all_aliases(
    first: str, second: str, dash: int, tag: str
) -> None:
    pad = " " * dash
    text = (
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n"
        f"  {pad}- &base\n  {pad}  name: a\n  {pad}  image: {first}\n"
        f"  {pad}- <<: *base\n  {pad}  name: b\n"
        f"  {pad}- <<: *base\n  {pad}  name: c\n  {pad}  image: {second}  # own\n"
    )
    sites = find_images(text, source="p.yaml")
    assert [(s.container, s.current, s.shared) for s in sites] == [
        ("a", first, True),
        ("c", second, False),
    ]
    new = parse_image(first).with_tag(tag)
    if new == parse_image(first):
        return
    try:
        apply_image(text, sites[:1], new, source="p.yaml")
        raise AssertionError("a shared image was edited without all_aliases")
    except YamlError as err:
        assert "anchor" in err.message
    result = apply_image(text, sites[:1], new, source="p.yaml", all_aliases=True)
    assert result.text == spliced(text, result)
    pod = load_all(result.text, source="p.yaml")[0]
    assert [c["image"] for c in pod["spec"]["containers"]] == [str(new), str(new), second]


KEYS = st.sampled_from(
    [
        "image",
        "containers",
        "initContainers",
        "tag",
        "repository",
        "registry",
        "hub",
        "name",
        "digest",
        "images",
        "newTag",
        "newName",
        "spec",
        "template",
        "metadata",
        "status",
        "app",
    ]
)
LEAVES = st.one_of(
    images(),
    tags,
    names,
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.just(""),
    st.sampled_from(["${IMAGE}", "{{ .Values.tag }}", "1.20", "a b", "x: y", "#c", "- z"]),
)
IMAGE_MAPS = st.one_of(
    st.fixed_dictionaries({"image": images()}, optional={"name": names, "tag": tags}),
    st.fixed_dictionaries(
        {"repository": repositories, "tag": tags},
        optional={"registry": registries, "digest": st.one_of(digests, st.just("")), "x": LEAVES},
    ),
    st.fixed_dictionaries({"hub": registries, "tag": tags}, optional={"image": names}),
    st.fixed_dictionaries(
        {
            "containers": st.lists(
                st.fixed_dictionaries({"name": names, "image": images()}), min_size=1, max_size=2
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "images": st.lists(
                st.fixed_dictionaries(
                    {"name": repositories},
                    optional={"newTag": tags, "newName": repositories, "digest": digests},
                ),
                min_size=1,
                max_size=2,
            )
        }
    ),
)
TREES = st.recursive(
    LEAVES | IMAGE_MAPS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(KEYS, children, max_size=4)
        | st.dictionaries(KEYS, IMAGE_MAPS, min_size=1, max_size=2)
    ),
    max_leaves=25,
)


def _dump(tree: Any, flow: bool | None, indent: int, kind: str | None) -> str:
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    yaml.indent(mapping=indent, sequence=indent + 2, offset=indent)
    yaml.representer.ignore_aliases = lambda *args: True
    if kind and isinstance(tree, dict):
        tree = {"apiVersion": "v1", "kind": kind, **tree}
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue()


def _path(path: str) -> list[Any]:
    return [
        int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"[^.\[\]]+|\[\d+\]", path)
    ]


@FUZZ
@given(
    TREES,
    st.sampled_from([None, True, False]),
    st.sampled_from([2, 4]),
    st.sampled_from([None, "Pod", "Kustomization"]),
    tags,
)
def test_any_structure_edits_only_its_values(
    tree: Any, flow: bool | None, indent: int, kind: str | None, tag: str
) -> None:
    text = _dump(tree, flow, indent, kind)
    for site in find_images(text, source="t.yaml"):
        if site.problem:
            continue
        ref = site.image
        new = (
            ref.with_tag(tag) if ref is not None and ref.name else parse_image(f"ghcr.io/x/y:{tag}")
        )
        try:
            result = apply_image(text, [site], new, source="t.yaml", all_aliases=True)
        except YamlError as err:
            assert "cannot be added safely" in err.message  # the only refusal left here
            continue
        assert result.text == spliced(text, result)
        want = load_all(text, source="t.yaml")
        for change in result.changes:
            for edit in change.edits:
                keys = _path(edit.path)
                put(want[site.document], tuple(keys), edit.value)
        assert load_all(result.text, source="t.yaml") == want
        event(f"edited a {site.form} site")


def _corpus_texts() -> list[tuple[str, str]]:
    from tests.conftest import DATA

    corpus = DATA / "corpus" / "real"
    found = []
    for path in sorted(corpus.glob("*.y*ml")):
        data = path.read_bytes()
        if len(data) < 12_000:  # small files keep each example fast
            found.append((path.name, data.decode("utf-8-sig")))
    return found


CORPUS_TEXTS = _corpus_texts()


@FUZZ
@given(
    st.sampled_from(CORPUS_TEXTS) if CORPUS_TEXTS else st.just(("none", "a: 1\n")),
    st.lists(
        st.tuples(
            st.integers(0, 12_000),
            st.integers(0, 6),
            st.sampled_from(
                [
                    "",
                    ":",
                    "- ",
                    "'",
                    '"',
                    "&x ",
                    "*x",
                    "\n",
                    "  ",
                    "{",
                    "[",
                    "# ",
                    "<<: *x\n",
                    "---\n",
                    "\t",
                    "\\",
                    "\u2028",
                ]
            ),
        ),
        min_size=1,
        max_size=3,
    ),
    tags,
)
def test_mutated_real_files_raise_only_yaml_errors(
    named: tuple[str, str], cuts: list[tuple[int, int, str]], tag: str
) -> None:
    name, text = named
    text = _mutate(text, cuts)
    try:
        for site in find_images(text, source=name):
            ref = site.image or parse_image("example.com/app:v1")
            result = apply_image(text, [site], ref.with_tag(tag), source=name, all_aliases=True)
            assert result.text == spliced(text, result)
    except YamlError as err:
        assert err.exit_code == 2 and "\n" not in err.message
