"""yaml.regions: cutting a nested entry's indentation, and finding positions on both sides."""

from __future__ import annotations

from gitops_release.yaml.regions import dedent


def test_a_cut_region_keeps_its_relative_indentation_and_maps_positions_both_ways() -> None:
    region = "env:\r\n    - name: A\n\n  \n      value: |\n          x\n    # note\n  "
    cut = dedent(region, 4)
    assert cut is not None
    assert cut.text == "env:\r\n- name: A\n\n\n  value: |\n      x\n# note\n"
    for word in ("name", "value", "x", "note"):
        at = region.index(word)
        inside = cut.inward(at)
        assert inside is not None and cut.text.startswith(word, inside)
        assert cut.outward(inside) == at
    assert cut.inward(region.index("- name") - 1) is None  # in the cut indentation


def test_a_line_further_left_or_a_tab_in_the_indentation_is_not_cut() -> None:
    assert dedent("env:\n  - a\n# left\n", 4) is None
    assert dedent("env:\n\t  - a\n", 2) is None
    assert dedent("env:\u2028  - a\n", 2) is None
    assert dedent("env: 1", 4) is not None
