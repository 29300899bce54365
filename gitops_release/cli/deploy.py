"""``deploy`` and ``verify``: the release flow as commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_release.cli.app import app
from gitops_release.cli.common import DebugOpt, DryRunOpt, OutputFormat, OutputOpt, make_output
from gitops_release.cli.options import (
    CONNECTION_HELP,
    NO_OPTIONS,
    AppArg,
    ArgoOptions,
    InsecureRegistryOpt,
    PinDigestOpt,
    RecordOpt,
    RolloutOpt,
    SemverOpt,
    TimeoutOpt,
    VerifyImageOpt,
    argo_options,
    complete_app,
    registry_flags,
)
from gitops_release.errors import EXIT_CODE_HELP
from gitops_release.release.types import OnFailure

ExpectOpt = Annotated[
    str | None,
    typer.Option("--expect", help="Regular expression the body must contain.", show_default=False),
]
StatusOpt = Annotated[
    int | None,
    typer.Option("--status", help="Expected HTTP status. [default: any 2xx]", show_default=False),
]
IngressOpt = Annotated[
    str | None,
    typer.Option(
        "--ingress-url",
        help="Reach the hosts through this ingress address, sending the host as the Host header "
        "[env: GITOPS_RELEASE_INGRESS_URL].",
        show_default=False,
    ),
]
CheckTimeoutOpt = Annotated[
    str,
    typer.Option("--check-timeout", help="Retry each smoke check this long (90s, 2m)."),
]
DotenvOpt = Annotated[
    Path | None,
    typer.Option(
        "--dotenv",
        help="Write RELEASE_COMMIT, PREVIOUS_TAG, NEW_TAG, PREVIEW_URL, PROD_URL, ROLLOUT_REVISION (GitLab dotenv report).",
        show_default=False,
    ),
]

DEPLOY_HELP = f"""Release TAG_OR_REF of an app: Git write, Argo CD, preview, checks, optional promotion.

APP (--app) is the Argo CD Application: its source says which repository, path and branch hold
the image (--repo/--path override). Steps, each shown on stderr:

\b
  0. refuse if another release of the app is in progress (exit 5; --supersede replaces it),
     or if the Application overrides the image itself (exit 2)
  1. write the image to Git and push (the bump-image options apply)
  2. refresh Argo CD, sync unless auto-sync will, wait for preview-ready on our commit and image
  3. smoke checks: --check preview|prod|URL (repeatable), --expect REGEX, --status CODE
  4. --promote: promote, wait for released, check prod
  5. on failure: abort, write the stable image back to Git ([skip ci]), wait until Healthy on it,
     exit 1 (6 on timeout); --on-failure abort-only|none does less

Re-running a deploy that succeeded changes nothing; after an interruption it continues.
A release set (--set APP=TAG per app, Argo CD apps of one repository) is ONE commit, deployed
wave by wave (--wave APP,APP; unnamed apps form a last wave): each wave released before the
next. A failure anywhere aborts the apps still on their way and ONE revert commit puts every
app back on its stable image. The dotenv then has per-app lines (API_NEW_TAG=...).
Before promotion a `prod` check only asks for a good status (prod still serves the old version).
The Git token comes from GITOPS_RELEASE_GIT_TOKEN, never a flag.

\b
Examples:
  gitops-release deploy v2 --app myapp
  gitops-release deploy v2 --app myapp --check preview --expect 'Version: v2' --promote
  gitops-release deploy v2 --app myapp --dry-run      # the diff and the Argo CD calls; no change
  gitops-release deploy --semver '~1.4' --app myapp   # the newest 1.4.x in the registry
  gitops-release deploy --set api=v2 --set worker=v2 --set web=v2 --wave api --promote
  gitops-release deploy v2 --app myapp --check preview --ingress-url http://traefik.internal \\
      --record release.json --dotenv deploy.env

\b
Exit codes:
{EXIT_CODE_HELP}

{CONNECTION_HELP}"""


@app.command("deploy", help=DEPLOY_HELP, no_args_is_help=True)
@argo_options()
def deploy_command(
    tag_or_ref: Annotated[
        str | None,
        typer.Argument(
            metavar="[TAG_OR_REF]",
            help="New tag (v2) or full image reference (with --semver: the repository, or none; not with --set).",
            show_default=False,
        ),
    ] = None,
    app_name: Annotated[
        str | None,
        typer.Option(
            "--app",
            metavar="APP",
            help="Argo CD Application name (required, unless --set).",
            show_default=False,
            autocompletion=complete_app,
        ),
    ] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="APP=TAG[:expect=CURRENT]",
            help="A release set: this Argo CD app to this tag, all in ONE commit (repeat per app).",
            show_default=False,
        ),
    ] = None,
    waves: Annotated[
        list[str] | None,
        typer.Option(
            "--wave",
            metavar="APP[,APP...]",
            help="With --set: deploy these apps together, released before the next --wave.",
            show_default=False,
        ),
    ] = None,
    promote: Annotated[
        bool, typer.Option("--promote", help="Promote after the checks and wait for released.")
    ] = False,
    check: Annotated[
        list[str] | None,
        typer.Option("--check", help="preview, prod or a URL to smoke-check (repeatable)."),
    ] = None,
    expect: ExpectOpt = None,
    status: StatusOpt = None,
    ingress_url: IngressOpt = None,
    check_timeout: CheckTimeoutOpt = "60s",
    on_failure: Annotated[
        OnFailure,
        typer.Option(
            "--on-failure", help="revert: abort and write stable back to Git; abort-only; none."
        ),
    ] = OnFailure.revert,
    supersede: Annotated[
        bool, typer.Option("--supersede", help="Replace a release of the app still in progress.")
    ] = False,
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo",
            help="Override the app's Git repository (URL or checkout).",
            show_default=False,
        ),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option(
            "--path", help="Override the app's path in the repository.", show_default=False
        ),
    ] = None,
    container: Annotated[
        str | None,
        typer.Option("--container", help="Edit the container with this name.", show_default=False),
    ] = None,
    image_name: Annotated[
        str | None,
        typer.Option(
            "--image-name", help="Edit the image with this repository.", show_default=False
        ),
    ] = None,
    digest: Annotated[
        str | None,
        typer.Option("--digest", help="Pin the new image to sha256:... too.", show_default=False),
    ] = None,
    expect_current: Annotated[
        str | None,
        typer.Option(
            "--expect-current",
            help="Only if Git holds this tag now (else exit 5).",
            show_default=False,
        ),
    ] = None,
    skip_ci: Annotated[
        bool, typer.Option("--skip-ci", help="Add [skip ci] to the commit.")
    ] = False,
    merge_request: Annotated[
        bool, typer.Option("--merge-request", help="Open a merge request instead of pushing.")
    ] = False,
    record: RecordOpt = None,
    pin_digest: PinDigestOpt = False,
    semver: SemverOpt = None,
    verify_image: VerifyImageOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    dotenv: DotenvOpt = None,
    rollout: RolloutOpt = None,
    timeout: TimeoutOpt = None,
    argo: ArgoOptions = NO_OPTIONS,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release.argo.wait import parse_duration
    from gitops_release.release import deploy

    out = make_output(output)
    if not sets and (app_name is None or (tag_or_ref is None and semver is None)):
        raise typer.BadParameter(
            "give TAG_OR_REF (or --semver RANGE) and --app APP, or a release set with --set APP=TAG",
            param_hint="TAG_OR_REF / --app",
        )
    if sets and semver:
        raise typer.BadParameter(
            "--semver picks one app's tag; a --set names each tag", param_hint="--semver"
        )
    if waves and not sets:
        raise typer.BadParameter("--wave orders the apps of a --set", param_hint="--wave")
    conn = argo.connect(timeout=timeout, extra=registry_flags(verify_image, insecure_registry))
    request = deploy.DeployRequest(
            tag_or_ref=tag_or_ref or "", semver=semver, app=app_name or "", repo=repo, path=path,
            rollout=rollout,
            container=container, image_name=image_name, digest=digest,
            pin_digest=pin_digest,
            expect_current=expect_current, skip_ci=skip_ci, merge_request=merge_request,
            promote=promote, supersede=supersede, checks=tuple(check or ()), expect=expect,
            status=status, ingress_url=ingress_url, check_timeout=parse_duration(check_timeout),
            on_failure=on_failure, record=record, dotenv=dotenv, dry_run=dry_run,
    )  # fmt: skip
    if sets:
        from gitops_release.release.releaseset import parse_members
        from gitops_release.release.waves import deploy_set

        members = parse_members(sets)
        out.show(deploy_set(conn, request, members, list(waves or ()), out=out))
        return
    out.show(deploy.deploy(conn, request, out=out))


@app.command(
    "verify",
    help=f"""Smoke-check an app's preview or prod host, or run an analysis template: the gate
before a promote.

The hosts come from the app's IngressRoutes (the one routed to the preview Service, the one
routed to the active Service). Each check is retried until --check-timeout; exit 1 when one
still fails, saying what it got.

--analysis runs an Argo Rollouts AnalysisTemplate's web and prometheus metrics from here, as
the analysis controller would (count, interval, initialDelay, conditions and limits), printing
each measurement: exit 0 Successful, 1 Failed, Error or Inconclusive, 2 bad input. Give a file,
or the name of a template among the app's files in Git; --arg NAME=VALUE supplies its args.

\b
Examples:
  gitops-release verify myapp --preview --expect 'Version: v2'
  gitops-release verify myapp --prod --status 200 --ingress-url http://127.0.0.1:8080
  gitops-release verify myapp --analysis error-rate --arg service-name=myapp-preview

{CONNECTION_HELP}""",
    no_args_is_help=True,
)
@argo_options()
def verify_command(
    name: AppArg,
    preview: Annotated[
        bool, typer.Option("--preview", help="Check the preview (test) host.")
    ] = False,
    prod: Annotated[bool, typer.Option("--prod", help="Check the prod host.")] = False,
    expect: ExpectOpt = None,
    status: StatusOpt = None,
    ingress_url: IngressOpt = None,
    check_timeout: CheckTimeoutOpt = "60s",
    rollout: RolloutOpt = None,
    analysis: Annotated[
        str | None,
        typer.Option(
            "--analysis",
            metavar="TEMPLATE_FILE_OR_NAME",
            help="Run this AnalysisTemplate's metrics (a file, or a template's name in the app's files).",
            show_default=False,
        ),
    ] = None,
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg", metavar="NAME=VALUE", help="An arg of the analysis template (repeatable)."
        ),
    ] = None,
    timeout: TimeoutOpt = None,
    argo: ArgoOptions = NO_OPTIONS,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release.argo.wait import parse_duration
    from gitops_release.errors import UsageError
    from gitops_release.release import deploy

    if analysis is not None:
        if preview or prod:
            raise UsageError(
                "verify --analysis runs alone", hint="run the smoke checks in their own verify"
            )
        from gitops_release.release.gate import verify_analysis

        out = make_output(output)
        conn = argo.connect(timeout=timeout)
        out.show(verify_analysis(conn, name, template=analysis, args=tuple(arg or ()), out=out))
        return
    if arg:
        raise UsageError("--arg needs --analysis")
    if not (preview or prod):
        raise UsageError("verify needs --preview, --prod, both, or --analysis")
    out = make_output(output)
    conn = argo.connect(timeout=timeout)
    targets = tuple(t for t, on in (("preview", preview), ("prod", prod)) if on)
    out.show(
        deploy.verify(
            conn, name, targets=targets, expect=expect, status=status, ingress_url=ingress_url,
            check_timeout=parse_duration(check_timeout), rollout=rollout, out=out,
        )
    )  # fmt: skip
