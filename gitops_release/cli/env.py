"""``env status`` and ``env promote``: the environments of gitops-release.toml."""

from __future__ import annotations

from typing import Annotated

import typer

from gitops_release.cli.app import Typer, app
from gitops_release.cli.common import DebugOpt, DryRunOpt, OutputFormat, OutputOpt, make_output
from gitops_release.cli.deploy import CheckTimeoutOpt, DotenvOpt, ExpectOpt, IngressOpt
from gitops_release.cli.options import (
    CONNECTION_HELP,
    NO_OPTIONS,
    ArgoOptions,
    InsecureRegistryOpt,
    RecordOpt,
    TimeoutOpt,
    VerifyImageOpt,
    argo_options,
    registry_flags,
)
from gitops_release.errors import EXIT_CODE_HELP
from gitops_release.release.types import OnFailure

ENVIRONMENTS_HELP = """The environments come from gitops-release.toml, in promotion order:

\b
  [[environments]]
  name = "staging"
  soak = "1h"                    # how long a release runs here before it is promoted on
  checks = ["preview"]           # what deploy smoke-checks here
  application = "{app}-{env}"    # the Argo CD Application of APP here (the default)
  applications = { web = "web-production" }   # exceptions"""

env_group = Typer(
    name="env",
    help="The environment chain: the matrix of what runs where, and promotion along it.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
app.add_typer(env_group, name="env")


@env_group.command(
    "status",
    help=f"""Show apps x environments: the version live, the version in Git, sync/health, flags.

LIVE is the image of the Rollout's active ReplicaSet (what the prod host serves), GIT what the
Application's target revision asks for. Flags: drift (Git differs from live and no release is
under way), behind (older than the environment before), in-progress (a release waits), missing
(no Application). Without APP, every app with an Application in some environment.

\b
Examples:
  gitops-release env status
  gitops-release env status myapp web -o json

{ENVIRONMENTS_HELP}

{CONNECTION_HELP}""",
)
@argo_options()
def env_status_command(
    apps: Annotated[
        list[str] | None, typer.Argument(metavar="[APP]...", help="Apps (default: all found).")
    ] = None,
    argo: ArgoOptions = NO_OPTIONS,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release.views.environments import env_status

    out = make_output(output)
    conn = argo.connect()
    out.show(env_status(conn, conn.settings.environments, tuple(apps or ())))


@env_group.command(
    "promote",
    help=f"""Promote what one environment runs to the next: --from staging --to prod.

\b
  1. read the source's LIVE image from Argo CD (not its Git, which may be ahead of what was
     verified); require it Synced, Healthy, released on it, and released longer ago than the
     soak (--soak, else the environment's soak): else exit 1 saying when it will have soaked
  2. the target already runs it: exit 0 ("changed": false); the target newer: exit 5 unless
     --allow-downgrade
  3. write it to the target's Git with a `Promoted-From: staging@<commit>` trailer, then run
     deploy's flow on the target: preview, checks (--check, else the target's checks), the
     manual gate or --promote, and on failure the abort and the Git revert
Several apps are promoted as one release set: each is judged first (one refusal refuses all,
nothing written), then ONE commit carries a Promoted-From trailer per app, and deploy --set's
flow releases them together; a failure reverts them all in one commit.

\b
Examples:
  gitops-release env promote myapp --from staging --to prod --dry-run
  gitops-release env promote myapp --from staging --to prod --soak 30m --promote
  gitops-release env promote api worker --from staging --to prod --promote   # one commit

{ENVIRONMENTS_HELP}

\b
Exit codes:
{EXIT_CODE_HELP}

{CONNECTION_HELP}""",
    no_args_is_help=True,
)
@argo_options()
def env_promote_command(
    apps: Annotated[
        list[str],
        typer.Argument(
            metavar="APP...",
            help="The app(s), not their Applications; several are promoted as one release set.",
        ),
    ],
    source: Annotated[str, typer.Option("--from", help="Environment to promote from.")],
    target: Annotated[str, typer.Option("--to", help="Environment to promote to.")],
    soak: Annotated[
        str | None,
        typer.Option(
            "--soak", help="Minimum time released in --from (30m, 1h).", show_default=False
        ),
    ] = None,
    promote: Annotated[
        bool, typer.Option("--promote", help="Promote the target after its checks.")
    ] = False,
    check: Annotated[
        list[str] | None,
        typer.Option("--check", help="preview, prod or a URL to smoke-check (repeatable)."),
    ] = None,
    expect: ExpectOpt = None,
    ingress_url: IngressOpt = None,
    check_timeout: CheckTimeoutOpt = "60s",
    allow_downgrade: Annotated[
        bool, typer.Option("--allow-downgrade", help="Allow moving the target backwards.")
    ] = False,
    merge_request: Annotated[
        bool, typer.Option("--merge-request", help="Open a merge request instead of pushing.")
    ] = False,
    on_failure: Annotated[
        OnFailure,
        typer.Option(
            "--on-failure", help="revert: abort and write stable back to Git; abort-only; none."
        ),
    ] = OnFailure.revert,
    record: RecordOpt = None,
    dotenv: DotenvOpt = None,
    verify_image: VerifyImageOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    timeout: TimeoutOpt = None,
    dry_run: DryRunOpt = False,
    argo: ArgoOptions = NO_OPTIONS,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release.argo.wait import parse_duration
    from gitops_release.release.promote import PromoteRequest, promote_environments

    out = make_output(output)
    request = PromoteRequest(
        app=apps[0], source=source, target=target,
        soak=parse_duration(soak) if soak is not None else None, promote=promote,
        checks=tuple(check or ()), expect=expect, ingress_url=ingress_url,
        check_timeout=parse_duration(check_timeout), allow_downgrade=allow_downgrade,
        merge_request=merge_request, on_failure=on_failure, dry_run=dry_run, record=record,
        dotenv=dotenv,
    )  # fmt: skip
    conn = argo.connect(timeout=timeout, extra=registry_flags(verify_image, insecure_registry))
    out.show(promote_environments(conn, conn.settings.environments, apps, request, out=out))
