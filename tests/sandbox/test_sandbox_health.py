"""The Python port of Argo CD's Rollout health check, row by row against its own test table,
and cross-checked against the original Lua (run with lupa)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from gitops_release.sandbox.health import rollout_health, worst
from tests.conftest import DATA

SPECS = DATA / "specs"
TABLE = SPECS / "samples" / "argocd-rollout-health_test.yaml"
TESTDATA = SPECS / "samples" / "rollout-health-testdata"


def _load(path: Path) -> Any:
    return YAML(typ="safe", pure=True).load(path.read_text())


ROWS = _load(TABLE)["tests"]


def test_table_has_every_row() -> None:
    assert len(ROWS) == 24


@pytest.mark.parametrize("row", ROWS, ids=[r["inputPath"] for r in ROWS])
def test_port_matches_table(row: dict[str, Any]) -> None:
    obj = _load(TESTDATA / row["inputPath"])
    got = rollout_health(obj)
    assert got["status"] == row["healthStatus"]["status"]
    assert got["message"] == (row["healthStatus"].get("message") or "")


def _lua_runtime() -> Any:
    lupa = pytest.importorskip("lupa")
    try:
        from lupa import luajit21 as flavour  # Lua 5.1 semantics, like gopher-lua
    except ImportError:
        flavour = lupa
    lua = flavour.LuaRuntime(unpack_returned_tuples=True)
    lua.execute("if table.getn == nil then table.getn = function(t) return #t end end")
    source = (SPECS / "argocd-rollout-health.lua").read_text()
    return lua, lua.eval(f"function(obj)\n{source}\nend")


@pytest.mark.parametrize("row", ROWS, ids=[r["inputPath"] for r in ROWS])
def test_port_matches_original_lua(row: dict[str, Any]) -> None:
    lua, check = _lua_runtime()
    obj = _load(TESTDATA / row["inputPath"])
    hs = check(lua.table_from(obj, recursive=True))
    assert rollout_health(obj) == {"status": hs["status"], "message": hs["message"] or ""}


def test_app_health_is_the_worst() -> None:
    assert worst([]) == "Healthy"
    assert worst(["Healthy", "Suspended"]) == "Suspended"
    assert worst(["Suspended", "Progressing", "Healthy"]) == "Progressing"
    assert worst(["Degraded", "Missing"]) == "Degraded"
