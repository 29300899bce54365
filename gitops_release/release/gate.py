"""``verify APP --analysis TEMPLATE_FILE_OR_NAME [--arg k=v]``: the analysis gate from the CI job.

The template is a file, or the name of an AnalysisTemplate among the app's files in Git (the
Application's repository, path and revision). It runs with the analysis controller's semantics
(:mod:`gitops_release.analysis.run`) within the command's ``--timeout``: exit 0 when the run is
Successful, 1 when it is Failed, Error or Inconclusive (naming the metric, its condition and the
last value), 2 for bad input (no such template, a missing arg, a condition that does not compile).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gitops_release.analysis import template as templates
from gitops_release.analysis.run import AnalysisResult, run_template
from gitops_release.argo.connection import Connection
from gitops_release.errors import UsageError
from gitops_release.output import Output


def parse_args(pairs: tuple[str, ...]) -> dict[str, str]:
    given: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--arg {pair}: want NAME=VALUE", hint="e.g. --arg service-name=myapp")
        given[key.strip()] = value
    return given


def _documents(conn: Connection, app: str, ref: str, out: Output) -> tuple[list[Any], str | None]:
    """(documents, the name to look for): a file's, or the app's files in Git."""
    path = Path(ref).expanduser()
    if path.is_file():
        return templates.read_file(path), None
    if "/" in ref or ref.endswith((".yaml", ".yml")):
        raise UsageError(
            f"--analysis {ref}: no such file", hint="give a template file or a template's name"
        )
    from gitops_release.git.repo import open_workspace
    from gitops_release.release.app import ReleaseApp

    rel = ReleaseApp(conn, app, out).load()
    repo, app_path, branch = rel.source
    out.progress(f"looking for AnalysisTemplate {ref} in {app_path} of {repo}")
    with open_workspace(repo, app_path=app_path, branch=branch, settings=conn.settings) as ws:
        return templates.read_directory(ws.root / app_path), ref


def verify_analysis(
    conn: Connection, app: str, *, template: str, args: tuple[str, ...], out: Output
) -> AnalysisResult:
    given = parse_args(args)
    documents, name = _documents(conn, app, template, out)
    source, doc = templates.find(documents, name)
    environ = os.environ if conn.environ is None else conn.environ
    resolved = templates.resolve(source, doc, given, environ)
    deadline = conn.started + conn.timeout
    out.progress(f"analysis {resolved.name} from {source}: {len(resolved.metrics)} metric(s)")
    tls = conn.settings.get("ca_bundle") or not conn.settings.get("insecure")
    return run_template(resolved, app=app, deadline=deadline, out=out, verify=tls)
