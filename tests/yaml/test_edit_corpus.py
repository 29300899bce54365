"""Every image listed in the real-world corpus (``corpus/real/INDEX.tsv``) is found and edited.

For each file and each image site: bump it (tag ``1.20``, which would turn into a float if
written plain, so quoting is exercised everywhere), then check, independently of the editor,
that the bytes outside the edited spans are identical, that the editor re-finds the site with
the intended reference, and that the parsed data equals the old data with only that value
changed. Sites the editor must refuse (placeholders, invalid references, shared anchors without
``all_aliases``, a missing ``tag:`` key) are checked to be refused, and counted.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from typing import Any

import pytest

from gitops_release.images import ImageRef, parse_image
from gitops_release.yaml.edit import EditResult, apply_image, find_images
from gitops_release.yaml.read import YamlError, load_all, read_text
from gitops_release.yaml.sites import ImageSite
from tests.conftest import DATA

CORPUS = DATA / "corpus" / "real"
NEW_TAG = "1.20"
FALLBACK = parse_image("registry.example.com/team/app:1.20")

# INDEX entries that are deliberately not image sites, with the reason.
NOT_SITES = {
    # status.containerStatuses[].image of a live Pod: cluster state, never edited.
    (
        "argoproj__argo-rollouts__pkg__kubectl-argo-rollouts__info__testdata__blue-green__active-pod1.yaml",
        "argoproj/rollouts-demo:blue",
    ),
    # a Kargo Warehouse subscription: which repository to watch, not a deployed image.
    (
        "akuity__kargo__hack__test__e2e__suites__kargo_fixtures__testdata__kargo__warehouse.yaml",
        "repoURL=ghcr.io/hairyhum/steps-test",
    ),
    # a kustomize patch `target:` selector (which objects a patch applies to), not an image.
    (
        "fluxcd__image-automation-controller__internal__update__testdata__setters__original__kustomization.yml",
        "image",
    ),
}


def _index() -> dict[str, list[str]]:
    with (CORPUS / "INDEX.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return {row["file"]: [x for x in row["images"].split(", ") if x] for row in rows}


INDEX = _index()
COUNTS: Counter[str] = Counter()
INDEX_IMAGES = sum(len(v) for v in INDEX.values())


def _token(text: str, site: ImageSite, role: str) -> str:
    span = site.field(role)
    assert span is not None
    return text[span.start : span.end]


def _matches(text: str, site: ImageSite, entry: str) -> bool:
    """Does ``site`` hold the INDEX ``entry`` (written as in the file, quotes included)?"""
    if entry.startswith("kust:"):
        if site.form != "kustomize":
            return False
        pairs = [kv.split("=", 1) for kv in entry[5:].split("|")]
        return all(site.field(k) is not None and _token(text, site, k) == v for k, v in pairs)
    if ("=" in entry and "|" in entry) or re.match(
        r"^(registry|repository|hub|image|name)=", entry
    ):
        if site.form != "split":
            return False
        by_key = {path.rsplit(".", 1)[-1]: role for role, path in site.key_paths}
        for key, value in (kv.split("=", 1) for kv in entry.split("|")):
            role = by_key.get(key)
            if role is None or _token(text, site, role).strip() != value:
                return False
        return True
    return site.form == "reference" and _token(text, site, "image") == entry


def _set_path(data: Any, path: str, value: str) -> None:
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    for part in parts[:-1]:
        data = data[int(part[1:-1])] if part.startswith("[") else data[part]
    last = parts[-1]
    if last.startswith("["):
        data[int(last[1:-1])] = value
    else:
        data[last] = value


def _spliced(old: str, result: EditResult) -> str:
    """The expected new text, rebuilt here from the reported spans and tokens."""
    edits = sorted((e for c in result.changes for e in c.edits), key=lambda e: e.span.start)
    out, pos = [], 0
    for edit in edits:
        out += [old[pos : edit.span.start], edit.token]
        pos = edit.span.end
    return "".join(out) + old[pos:]


def _reason(message: str) -> str:
    for reason in (
        "placeholder",
        "no tag key",
        "invalid repository",
        "invalid image tag",
        "invalid digest",
    ):
        if reason in message:
            return reason
    return message


def _target(site: ImageSite) -> ImageRef:
    image = site.image
    if image is None or not image.name:
        return FALLBACK
    return image.with_tag(NEW_TAG)


def _check_edit(text: str, site: ImageSite, result: EditResult) -> None:
    """One site's own edit: something changed, and only inside the reported spans."""
    assert result.changed, f"{site.describe()}: nothing changed"
    assert result.text == _spliced(text, result)
    for change in result.changes:
        assert change.site == site and change.new != change.old
        for edit in change.edits:
            body = edit.token.strip("\r\n") if edit.new_key else edit.token  # an added line
            assert "\n" not in body and "\r" not in body
            tally = "keys added" if edit.new_key else "scalars replaced"
            COUNTS[tally] += 1


def _check_together(
    name: str, text: str, edited: list[tuple[ImageSite, ImageRef, EditResult]]
) -> None:
    """All of a file's (unshared) edits spliced together by this test, then read back whole:
    the editor re-finds every site with its new reference, and (files up to 50 KB) the data
    equals the old data with exactly the edited values replaced (as strings)."""
    edits = {(e.span.start, e.new_key): e for _, _, r in edited for c in r.changes for e in c.edits}
    out, pos = [], 0
    for key in sorted(edits, key=lambda k: k[0]):
        out += [text[pos : key[0]], edits[key].token]
        pos = edits[key].span.end
    combined = "".join(out) + text[pos:]
    after = {(s.document, s.yaml_path): s for s in find_images(combined, source=name)}
    for site, new, _ in edited:
        again = after[(site.document, site.yaml_path)]
        assert again.image == new, f"{site.describe()}: re-found as {again.current}"
        assert again.problem is None
    if len(text) > 50_000:
        return  # loading is slow in pure Python; the editor's own check re-read these
    try:
        old_docs = load_all(text, source=name)
    except YamlError:
        return  # the one corpus file with a duplicate key (not on any image path)
    for site, _, result in edited:
        for change in result.changes:
            for edit in change.edits:
                _set_path(old_docs[site.document], edit.path, edit.value)
    assert old_docs == load_all(combined, source=name), f"{name}: other data changed"


@pytest.mark.parametrize(
    "count", [INDEX_IMAGES], ids=[f"{INDEX_IMAGES}-index-images-{len(INDEX)}-files"]
)
def test_every_corpus_image_is_found_and_edited(count: int) -> None:
    tally: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    failures: list[str] = []
    for name, entries in sorted(INDEX.items()):
        source = read_text((CORPUS / name).read_bytes(), source=name)
        text = source.text
        sites = find_images(text, source=name)
        # Every INDEX entry maps to a distinct site (or is deliberately not a site).
        unmatched = list(sites)
        for entry in entries:
            hit = next((s for s in unmatched if _matches(text, s, entry)), None)
            alias = next((s for s in sites if s.shared and _matches(text, s, entry)), None)
            if hit is not None:
                unmatched.remove(hit)
                tally["index entries matched"] += 1
            elif alias is not None:
                tally["index entries matched (alias of a matched site)"] += 1
            elif (name, entry) in NOT_SITES:
                tally["index entries not sites (status, subscription)"] += 1
            else:
                failures.append(f"{name}: INDEX image {entry} not found")
        tally["sites found"] += len(sites)
        tally["sites beyond INDEX"] += len(unmatched)
        edited: list[tuple[ImageSite, ImageRef, EditResult]] = []
        for site in sites:
            new = _target(site)
            if site.problem:
                with pytest.raises(YamlError):
                    apply_image(text, [site], new, source=name)
                refused[_reason(site.problem)] += 1
                continue
            try:
                if site.shared:
                    with pytest.raises(YamlError, match="anchor"):
                        apply_image(text, [site], new, source=name)
                    tally["shared refused without all_aliases"] += 1
                result = apply_image(text, [site], new, source=name, all_aliases=site.shared)
                _check_edit(text, site, result)
            except YamlError as err:
                refused[_reason(str(err))] += 1
                continue
            except AssertionError as err:
                failures.append(f"{name} {site.yaml_path}: {err}")
                continue
            tally["edited and verified"] += 1
            if not site.shared:
                edited.append((site, new, result))
        if edited:
            try:
                _check_together(name, text, edited)
                tally["files read back after all edits"] += 1
            except AssertionError as err:
                failures.append(f"{name}: {err}")
        # The file as bytes: BOM and line endings come back as they were.
        assert source.encode(text) == (CORPUS / name).read_bytes()
    print(f"\ncorpus: {len(INDEX)} files, {count} INDEX images")
    for key, value in sorted(tally.items()):
        print(f"  {key}: {value}")
    for key, value in sorted(COUNTS.items()):
        print(f"  {key}: {value}")
    for key, value in sorted(refused.items()):
        print(f"  refused ({key}): {value}")
    assert not failures, "\n".join(failures[:20])
    assert count == sum(v for k, v in tally.items() if k.startswith("index entries"))
    # Only sites that cannot be edited safely are refused: placeholders, invalid references,
    # chart values without a tag key.
    assert tally["edited and verified"] >= 240
    assert sum(refused.values()) == tally["sites found"] - tally["edited and verified"]
