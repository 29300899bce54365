"""House rules a reader relies on, enforced: packages by layer with no import circles, one owner
per outside library, empty package __init__ files, a light start-up, a sandbox that shares no
code with the client it is meant to check, and a repository that reads nothing from beside its
checkout.

``python tests/test_architecture.py`` prints the figures of the client package's import graph
(sandbox excluded; imports inside functions count): the longest chain of imports, the circles,
the modules over 300 lines and the lines of code."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gitops_release"
ROOT = PACKAGE.parent

# library (or a module of one, dotted) -> modules allowed to import it (outside
# gitops_release/sandbox/, the other side of the wire)
OWNERS = {
    "typer": ("gitops_release.cli",),
    "click": (),
    "ruamel": ("gitops_release.yaml",),
    "git": ("gitops_release.git",),
    "requests": ("gitops_release.argo.http",),
    # the registry's calls go through the standard library's HTTP stack, under the same client
    # (argo/stdhttp.py: its transport); urllib.parse, a pure string helper, is anyone's
    "urllib.request": ("gitops_release.argo.stdhttp",),
    "urllib.error": ("gitops_release.argo.stdhttp",),
    "http.client": ("gitops_release.argo.stdhttp",),
    "certifi": ("gitops_release.argo.stdhttp",),
    "jsonschema": ("gitops_release.schemas",),
    "nodesemver": ("gitops_release.registry.ranges",),
    # the client runs one kind of program itself: helm / kubectl, to check what a bump renders
    "subprocess": ("gitops_release.release.render",),
    "simpleeval": ("gitops_release.analysis.condition",),
}
# What the sandbox may import from the package besides itself: the scaffold (its demo writes the
# app as a user would). Everything else is the client, on the other side of the wire.
SANDBOX_MAY_IMPORT = (
    "gitops_release",
    "gitops_release.scaffold.write",
    "gitops_release.scaffold.spec",
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# Floors, top first: a module imports its own floor or lower ones, never a higher one; within a
# floor the graph test below keeps it free of circles. The command line is the only way in.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli", "__main__"),
    ("release", "views"),
    ("argo", "git", "yaml", "registry", "scaffold", "lint", "schemas", "analysis"),
    ("images", "errors", "config", "environments", "output", "record", "journal", ""),
)
# __init__ files that may hold code: the package's version, and the command line's entry point
# (``main`` and the command map; the start-up tests below import it as gitops_release.cli).
INIT_WITH_CODE = ("gitops_release", "gitops_release.cli")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _trespasses(module: str, names: set[str]) -> list[str]:
    """The imports of ``module`` that belong to a library another module owns."""
    found = []
    for name in sorted(names):
        for library, owners in OWNERS.items():
            if (name == library or name.startswith(library + ".")) and not any(
                module == owner or module.startswith(owner + ".") for owner in owners
            ):
                found.append(f"{module} imports {name}")
    return found


def test_one_owner_per_outside_library() -> None:
    offenders = []
    for path in _sources():
        module = _module_name(path)
        if module.startswith("gitops_release.sandbox"):
            continue
        offenders += _trespasses(module, _imports(path))
    assert offenders == []


def test_the_owner_check_reads_dotted_libraries() -> None:
    names = {"urllib.parse", "urllib.request", "http.client", "http", "requests.utils"}
    assert _trespasses("gitops_release.argo.stdhttp", names - {"requests.utils"}) == []
    assert _trespasses("gitops_release.registry.client", names) == [
        "gitops_release.registry.client imports http.client",
        "gitops_release.registry.client imports requests.utils",
        "gitops_release.registry.client imports urllib.request",
    ]
    assert _trespasses("gitops_release.argo.http", {"requests", "requests.utils"}) == []


def test_sandbox_shares_no_code_with_the_client() -> None:
    sandbox = PACKAGE / "sandbox"
    offenders = []
    for path in sandbox.rglob("*.py"):
        for name in _imports(path):
            if name.split(".")[0] != "gitops_release" or name.startswith("gitops_release.sandbox"):
                continue
            if name not in SANDBOX_MAY_IMPORT:
                offenders.append(f"{_module_name(path)} imports {name}")
    assert offenders == []


def test_start_up_does_not_load_heavy_libraries() -> None:
    probe = (
        "import sys, io, contextlib\n"
        "from gitops_release.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--version']); main(['--help'])\n"
        "heavy = {'git', 'requests', 'ruamel', 'rich', 'jsonschema', 'urllib3'}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & heavy)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", "import json\n" + probe], capture_output=True, text=True, check=True
    )
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_command_map_names_every_registered_command() -> None:
    """main() imports only the module of the command being run: the map must be complete."""
    from gitops_release import cli

    cli.load_commands()
    registered = {c.name or c.callback.__name__ for c in cli.app.registered_commands if c.callback}
    registered |= {g.name for g in cli.app.registered_groups if g.name}
    assert registered == set(cli.COMMANDS)
    for name, module in cli.COMMANDS.items():
        owners = {
            c.callback.__module__
            for c in cli.app.registered_commands
            if c.name == name and c.callback
        }
        owners |= {
            c.callback.__module__
            for g in cli.app.registered_groups
            if g.name == name and g.typer_instance
            for c in g.typer_instance.registered_commands
            if c.callback
        }
        assert owners == {f"gitops_release.cli.{module}"}, name


def test_version_and_a_named_command_load_only_what_they_need() -> None:
    probe = (
        "import sys, io, json, contextlib\n"
        "from gitops_release.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--version'])\n"
        "    after_version = sorted(m for m in sys.modules if m.startswith('gitops_release.cli.'))\n"
        "    main(['lint', '--help'])\n"
        "    after_lint = sorted(m for m in sys.modules if m.startswith('gitops_release.cli.'))\n"
        "print(json.dumps([after_version, after_lint]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    after_version, after_lint = json.loads(proc.stdout.strip().splitlines()[-1])
    assert after_version == ["gitops_release.cli.app", "gitops_release.cli.common"]
    assert after_lint == [*after_version, "gitops_release.cli.lint"]


# --- the import graph of the client package ------------------------------------------------------


def _client_modules() -> dict[str, Path]:
    modules = {_module_name(p): p for p in _sources()}
    return {m: p for m, p in modules.items() if not m.startswith("gitops_release.sandbox")}


def import_graph() -> dict[str, set[str]]:
    """Module -> the client modules it imports (at module level or inside functions)."""
    modules = _client_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
        graph[module] = {t for t in targets if t in modules and t != module}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    """The longest chain of imports (the graph must have no circles)."""
    memo: dict[str, list[str]] = {}

    def chain(module: str) -> list[str]:
        if module not in memo:
            below = [chain(t) for t in sorted(graph[module])]
            memo[module] = [module, *max(below, key=len, default=[])]
        return memo[module]

    return max((chain(m) for m in sorted(graph)), key=len)


def _layer(module: str) -> int:
    rest = module.removeprefix("gitops_release").removeprefix(".")
    top = rest.split(".")[0]
    return next(i for i, floor in enumerate(LAYERS) if top in floor)


def test_no_import_circles() -> None:
    assert circles(import_graph()) == []


def test_imports_go_down_the_floors_and_never_into_the_cli() -> None:
    offenders = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if _layer(target) < _layer(module)
    ]
    assert offenders == []


def test_package_init_files_stay_empty() -> None:
    """An __init__ that re-exported its package would make importing a light module (say
    argo/types.py at start-up) load its heavy siblings."""
    offenders = []
    for path in PACKAGE.rglob("__init__.py"):
        module = _module_name(path)
        if module in INIT_WITH_CODE or module.startswith("gitops_release.sandbox"):
            continue
        body = ast.parse(path.read_text(encoding="utf-8")).body
        if any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body):
            offenders.append(module)
    assert offenders == []


def test_module_names_in_strings_exist() -> None:
    """A module named in a string (a preload on a thread, a lazy import) fails silently when a
    rename misses it: every whole ``gitops_release.x`` string must name a module."""
    modules = {_module_name(p) for p in _sources()}
    missing = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith("gitops_release.")
                and not node.value.endswith(".")
                and node.value.replace(".", "").replace("_", "").isalnum()
                and node.value not in modules
            ):
                missing.append(f"{_module_name(path)}: {node.value}")
    assert missing == []


def figures() -> dict[str, object]:
    graph = import_graph()
    lines = {
        m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in _client_modules().items()
    }
    loops = circles(graph)
    chain = [] if loops else longest_chain(graph)
    return {
        "modules": len(graph),
        "longest import chain": len(chain),
        "chain": " -> ".join(m.removeprefix("gitops_release.") for m in chain),
        "import circles": len(loops),
        "modules over 300 lines": sorted(m for m, n in lines.items() if n > 300),
        "lines": sum(lines.values()),
    }


# --- Nothing reads a `shared` folder beside the checkout -----------------------------------------
# A user's clone stands alone: test data lives in tests/data/. A path that reaches a folder named
# `shared` is either a string with a separator next to the component (`../shared`, `shared/specs`,
# f"{root}/shared") or the bare name joined onto a path (`root / "shared"`, `Path(root, "shared")`,
# `os.path.join(root, "shared")`). The word in prose or in identifiers (`span.shared`,
# `shared=True`, "a value shared through an anchor") is not a path.
_SEPARATOR = re.compile(r"[/\\]")
_JOINS = {"Path", "PurePath", "PosixPath", "WindowsPath", "join", "joinpath"}


def _path_to_shared(text: str) -> bool:
    for token in text.split():
        parts = _SEPARATOR.split(token.strip("`'\"()[]{},;:"))
        if len(parts) > 1 and "shared" in parts:
            return True
    return False


def _shared_paths_in_python(source: str) -> Iterator[int]:
    """Line numbers of the expressions of ``source`` that reach a ``shared`` folder."""
    bare = "shared"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            value = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            if _path_to_shared(value):
                yield node.lineno
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            if any(
                isinstance(o, ast.Constant) and o.value == bare for o in (node.left, node.right)
            ):
                yield node.lineno
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _JOINS and any(
                isinstance(a, ast.Constant) and a.value == bare for a in node.args
            ):
                yield node.lineno


def _shared_paths_in_shell(source: str) -> Iterator[int]:
    """Line numbers of shell or CI-YAML lines (comments dropped) that name a ``shared`` path."""
    for number, line in enumerate(source.splitlines(), 1):
        code = re.split(r"(?:^|\s)#", line, maxsplit=1)[0]
        if _path_to_shared(code):
            yield number


def _code_files() -> Iterator[Path]:
    """The package, the tests (not their data) and the benchmarks; the scripts and CI files."""
    for folder in ("gitops_release", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if (ROOT / "tests" / "data") not in path.parents:
                yield path
    for name in (
        "dev",
        ".ci/run",
        ".gitlab-ci.yml",
        *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "templates").glob("*.yml")),
    ):
        if (ROOT / name).is_file():
            yield ROOT / name


def test_nothing_reads_a_shared_folder_beside_the_checkout() -> None:
    offenders = []
    for path in _code_files():
        text = path.read_text(encoding="utf-8")
        finder = _shared_paths_in_python if path.suffix == ".py" else _shared_paths_in_shell
        offenders += [f"{path.relative_to(ROOT)}:{line}" for line in finder(text)]
    assert not offenders, f"paths beside the checkout (test data goes in tests/data/): {offenders}"


# The examples below write the folder as DIR: spelled out, this file would trip its own check.
def _spelled(code: str) -> str:
    return code.replace("DIR", "shared")


@pytest.mark.parametrize(
    "code",
    [
        'SPECS = REPO_ROOT.parent / "DIR" / "specs"',
        'GUIDE = Path(__file__).resolve().parents[2] / "DIR" / "reference"',
        'SPECS = Path("../DIR/specs")',
        'CORPUS = Path(root, "..", "DIR")',
        'CORPUS = os.path.join(root, "..", "DIR", "corpus")',
        'CORPUS = root.joinpath("DIR")',
        'CORPUS = f"{root}/../DIR/corpus"',
        'def main():\n    """Reads ``../DIR/specs`` by default."""',
    ],
)
def test_the_shared_path_check_catches_a_path(code: str) -> None:
    assert list(_shared_paths_in_python(_spelled(code))) != []


@pytest.mark.parametrize(
    "code",
    [
        "if span.DIR and not all_aliases: pass",
        "Slot(at, ', ', '', line, True, DIR=True)",
        'message = f"{path} is DIR through an anchor"',
        'tally["DIR refused without all_aliases"] += 1',
        'payload = {"DIR": site.DIR}',
        "# nothing here reads ../DIR any more",
    ],
)
def test_the_shared_path_check_leaves_prose_and_identifiers(code: str) -> None:
    assert list(_shared_paths_in_python(_spelled(code))) == []


def test_the_shared_path_check_reads_shell_without_its_comments() -> None:
    script = 'cd "$(dirname "$0")"  # no ../DIR here\n# nor ../DIR\nls ../DIR/specs\n'
    assert list(_shared_paths_in_shell(_spelled(script))) == [3]


if __name__ == "__main__":
    for key, value in figures().items():
        print(f"{key}: {value}")


def _test_imports(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return [n for n in names if n.split(".")[-1].startswith("test_")]


def test_no_test_module_imports_another() -> None:
    """Shared fixtures and data live in conftest.py or a plain module (``tests/status_data.py``,
    ``tests/fake_http.py``), never in a test module another one imports: pytest would collect
    the imported module's tests twice over, and a rename breaks an unrelated file."""
    found = {
        str(path.relative_to(ROOT)): imported
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if (imported := _test_imports(ast.parse(path.read_text(encoding="utf-8"))))
    }
    # the reliability suite re-runs the fuzz properties with more examples: their bodies and
    # strategies, imported on purpose (rel_fuzz is no test module, so nothing is collected twice)
    assert found == {"tests/reliability/rel_fuzz.py": ["test_fuzz_images", "test_fuzz_yamledit"]}


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from tests.test_views import NOW", ["tests.test_views"]),
        ("import test_rel_faults", ["test_rel_faults"]),
        ("from tests.status_data import NOW", []),
        ("import rel_sandbox", []),
    ],
)
def test_the_test_import_check_sees_test_modules(source: str, found: list[str]) -> None:
    assert _test_imports(ast.parse(source)) == found
