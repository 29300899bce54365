"""``yaml/spans.py`` composes ASCII text with libyaml (ruamel.yaml.clib) and everything else with
ruamel's pure composer: the two must give the same image sites, spans and edits, byte for byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitops_release.images import parse_image
from gitops_release.yaml import read, spans
from gitops_release.yaml.edit import apply_image, find_images
from gitops_release.yaml.read import YamlError, load_all

DATA = Path(__file__).resolve().parent.parent / "data"
CORPUS = sorted(
    p for p in DATA.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
)  # fmt: skip
ASCII = [p for p in CORPUS if p.read_bytes().isascii()]
NULL_TAG = "tag:yaml.org,2002:null"


def _shape(node: Node | None, seen: dict[int, int]) -> object:
    """A node tree as plain tuples: kind, tag, value, style and marks (an empty scalar's marks
    differ between the two composers, and yaml.spans finds its ':' itself)."""
    if node is None:
        return None
    if id(node) in seen:
        return ("alias", seen[id(node)])
    seen[id(node)] = len(seen)
    empty = isinstance(node, ScalarNode) and node.tag == NULL_TAG and not node.value
    marks = () if empty else (node.start_mark.index, node.end_mark.index, node.start_mark.line,
                              node.start_mark.column)  # fmt: skip
    head = (type(node).__name__, str(node.tag), *marks)
    if isinstance(node, ScalarNode):
        return (*head, node.value, node.style or None)  # plain: None (pure) or '' (libyaml)
    if isinstance(node, SequenceNode):
        return (*head, node.flow_style, tuple(_shape(item, seen) for item in node.value))
    assert isinstance(node, MappingNode)
    pairs = tuple((_shape(k, seen), _shape(v, seen)) for k, v in node.value)
    return (*head, node.flow_style, pairs)


def _pure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spans, "fast_composable", lambda text: False)
    spans._compose_cached.cache_clear()


def test_the_c_composer_is_installed_and_used_for_an_ascii_manifest() -> None:
    # without ruamel.yaml.clib (a dependency) every parse is ~6x slower: fail, do not skip
    text = (
        DATA / "corpus/real/argoproj__argo-rollouts__examples__rollout-bluegreen.yaml"
    ).read_text()
    assert spans.fast_composable(text)
    assert not spans.fast_composable(text.replace("blue", "bl\u00fce"))  # marks count bytes


@pytest.mark.parametrize("path", ASCII, ids=lambda p: p.name)
def test_both_composers_build_the_same_tree(path: Path) -> None:
    text = path.read_text("utf-8")
    if not spans.fast_composable(text):
        pytest.fail(f"{path.name}: expected the C composer to take it")
    try:
        pure = spans.compose_pure(text, path.name)
    except YamlError:
        with pytest.raises(Exception):  # noqa: B017 - whatever libyaml says, the pure words show
            spans.compose_fast(text)
        return
    fast = spans.compose_fast(text)
    assert [d.end for d in fast] == [d.end for d in pure]
    assert [_shape(d.root, {}) for d in fast] == [_shape(d.root, {}) for d in pure]


@pytest.mark.parametrize("path", ASCII, ids=lambda p: p.name)
def test_both_composers_find_and_edit_the_same_images(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = path.read_text("utf-8")

    def run() -> object:
        spans._compose_cached.cache_clear()
        try:
            sites = find_images(text, source=path.name)
        except YamlError as err:
            return str(err)
        editable = [s for s in sites if s.image is not None and not s.problem]
        if not editable:
            return sites
        target = parse_image(f"{editable[0].image.repository}:fast-compose-1")
        try:
            result = apply_image(text, editable[:1], target, source=path.name)
        except YamlError as err:  # a shared (anchored) value, say: the same refusal both ways
            return sites, str(err)
        return sites, result.text

    fast = run()
    _pure(monkeypatch)
    assert fast == run()


def test_text_libyaml_refuses_is_composed_by_the_pure_composer() -> None:
    # a reused anchor name: legal YAML 1.2 (ruamel warns); libyaml's composer raises
    text = "a: &x 1\nb: &x 2\nc: *x\n"
    with pytest.raises(Exception):  # noqa: B017
        spans.compose_fast(text)
    spans._compose_cached.cache_clear()
    (doc,) = spans.compose_documents(text, source="anchors.yaml")
    assert isinstance(doc.root, MappingNode)
    assert doc.root.value[2][1].value == "2"


def test_invalid_yaml_gets_the_pure_composers_words() -> None:
    spans._compose_cached.cache_clear()
    with pytest.raises(YamlError, match=r"^bad\.yaml:2:\d+: "):
        spans.compose_documents("a: [1, 2\nb: 3\n", source="bad.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "".join(" " * i + "k:\n" for i in range(3000)) + " " * 3000 + "v\n",
    ],
    ids=["flow", "block"],
)
def test_deep_nesting_never_reaches_the_c_composer(text: str) -> None:
    # libyaml's composer recurses on the C stack: 100,000 levels crash the interpreter. The
    # guard sends such text to the pure composer, which says it is nested too deeply.
    assert not spans.fast_composable(text) and not read.c_loadable(text)
    code = (
        "import sys\n"
        "from gitops_release.yaml.edit import find_images\n"
        "from gitops_release.yaml.read import YamlError, load_all\n"
        "text = sys.stdin.read()\n"
        "for read in (find_images, load_all):\n"
        "    try:\n"
        "        read(text, source='deep.yaml')\n"
        "    except YamlError as err:\n"
        "        print(err)\n"
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", code], input=text, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.count("nested too deeply") == 2, done.stdout


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_both_loaders_read_the_same_data(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = path.read_text("utf-8").lstrip("\ufeff")
    assert read.c_loadable(text), f"{path.name}: expected libyaml to read it"

    def run() -> object:
        try:
            return load_all(text, source=path.name)
        except YamlError as err:
            return str(err)

    fast = run()
    monkeypatch.setattr(read, "c_loadable", lambda text: False)
    assert fast == run()


def test_a_duplicate_key_gets_the_pure_loaders_words() -> None:
    with pytest.raises(YamlError, match=r"^dup\.yaml:2:1: found duplicate key"):
        load_all("a: 1\na: 2\n", source="dup.yaml")
