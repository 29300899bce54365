"""``gitops-release lint PATH...``: check an app directory as Argo Rollouts and Argo CD see it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_release.cli.app import app
from gitops_release.cli.common import DebugOpt, OutputFormat, OutputOpt, make_output

HELP = """Check an app directory the way Argo Rollouts and Argo CD would see it.

PATH is a directory (its *.yaml and *.yml files) or a file; several are checked together, e.g.
the app directory and its argocd/APP.yaml.

\b
Checks:
  - every YAML document parses and is a Kubernetes object with a name
  - Rollout, Application and IngressRoute pass their CRD schemas; Service our own schema
  - the Rollout's activeService/previewService exist here, select its pod labels, and their
    targetPort is a container port (by number or name)
  - IngressRoute services and ports exist; no two IngressRoutes claim the same host
  - a kustomization.yaml lists files that exist

Manual gate: promotion is asked to be manual (the guide's way) unless --no-manual-gate,
GITOPS_RELEASE_MANUAL_GATE=false or manual_gate = false in gitops-release.toml. Then a
Rollout with autoPromotionEnabled true, or not set (its default is true), is a warning.

One line per finding: FILE: KIND/NAME: PROBLEM. Exit 0 clean (warnings allowed unless
--strict), 1 with findings, 2 when PATH cannot be read.

\b
Examples:
  gitops-release lint myapp
  gitops-release lint myapp argocd/myapp.yaml --strict
  gitops-release lint apps/myapp --no-manual-gate -o json
"""


@app.command("lint", help=HELP, no_args_is_help=True)
def lint_command(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help="App directory or YAML files.")
    ],
    manual_gate: Annotated[
        bool | None,
        typer.Option(
            "--manual-gate/--no-manual-gate",
            help="Warn when a Rollout promotes by itself. [default: on]",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 1).")] = False,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release import config
    from gitops_release.errors import Failed
    from gitops_release.lint.check import lint_paths

    out = make_output(output)
    settings = config.resolve({"manual_gate": manual_gate})
    findings = lint_paths(paths, manual_gate=bool(settings["manual_gate"]))
    errors = [f for f in findings if f.severity == "error" or strict]
    text = "\n".join(f.line() for f in findings) or f"ok: {', '.join(map(str, paths))}"
    out.emit(text, {"ok": not errors, "findings": [f.as_json() for f in findings]})
    if errors:
        raise Failed(
            f"lint: {len(errors)} finding(s) in {', '.join(map(str, paths))}",
            hint="fix them, then lint again",
        )
