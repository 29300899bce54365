"""House rules a reader relies on, enforced: one owner per outside library, a light start-up,
and a sandbox that shares no code with the client it is meant to check."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gitops_release"

# library -> modules allowed to import it (outside gitops_release/sandbox/, the other side of the wire)
OWNERS = {
    "typer": ("gitops_release.cli",),
    "click": (),
    "ruamel": ("gitops_release.yaml",),
    "git": ("gitops_release.git",),
    "requests": ("gitops_release.argo.http",),
    "jsonschema": ("gitops_release.schemas",),
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


def test_one_owner_per_outside_library() -> None:
    offenders = []
    for path in _sources():
        module = _module_name(path)
        if module.startswith("gitops_release.sandbox"):
            continue
        for name in _imports(path):
            top = name.split(".")[0]
            if top in OWNERS and not any(
                module == owner or module.startswith(owner + ".") for owner in OWNERS[top]
            ):
                offenders.append(f"{module} imports {name}")
    assert offenders == []


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
