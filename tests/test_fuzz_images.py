"""Fuzz ``images``: every reference the grammar allows parses and formats back to itself, and
no input makes the parser raise anything but UsageError (exit 2).

``FUZZ_EXAMPLES`` raises the number of examples (default kept small for the everyday run).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops_release.errors import UsageError
from gitops_release.images import ImageRef, parse_image, resolve_target

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_alnum = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_separator = st.sampled_from([".", "_", "__", "-", "--"])


@st.composite
def components(draw: st.DrawFn) -> str:
    parts = [draw(_alnum)]
    for _ in range(draw(st.integers(0, 2))):
        parts += [draw(_separator), draw(_alnum)]
    return "".join(parts)


@st.composite
def registries(draw: st.DrawFn) -> str:
    label = st.text(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6
    )
    host = draw(
        st.one_of(
            st.just("localhost"),
            st.lists(label, min_size=2, max_size=3).map(".".join),
            st.just("127.0.0.1"),
        )
    )
    port = draw(st.one_of(st.none(), st.integers(1, 65535)))
    return host if port is None else f"{host}:{port}"


tags = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}\Z")
digests = st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: f"sha256:{h}")


@st.composite
def references(draw: st.DrawFn) -> str:
    registry = draw(st.one_of(st.none(), registries()))
    parts = draw(st.lists(components(), min_size=1, max_size=3))
    if registry is None and len(parts) > 1 and ("." in parts[0] or parts[0] == "localhost"):
        parts[0] = "x" + parts[0].replace(".", "-")  # it would read as a registry
    path = "/".join(parts)
    text = f"{registry}/{path}" if registry else path
    tag = draw(st.one_of(st.none(), tags))
    digest = draw(st.one_of(st.none(), digests))
    return text + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


@FUZZ
@given(references())
def test_parse_format_round_trip(text: str) -> None:
    ref = parse_image(text)
    assert str(ref) == text
    assert parse_image(str(ref)) == ref
    assert str(ImageRef(ref.repository, ref.registry, ref.tag, ref.digest)) == text


@FUZZ
@given(references(), tags, st.one_of(st.none(), digests))
def test_bump_keeps_the_name_and_drops_a_stale_digest(
    text: str, tag: str, digest: str | None
) -> None:
    current = parse_image(text)
    new = resolve_target(current, tag, digest)
    assert (new.name, new.tag, new.digest) == (current.name, tag, digest)


@FUZZ
@given(
    st.text(max_size=80)
    | references().map(lambda r: r + "\n")
    | st.binary(max_size=40).map(lambda b: b.decode("latin-1"))
)
def test_parser_raises_only_usage_errors(text: str) -> None:
    try:
        ref = parse_image(text)
    except UsageError as err:
        assert "\n" not in err.message.replace(repr(text), "")
        return
    assert str(ref) == text  # whatever parses formats back to itself
