"""``release bump-image TAG_OR_REF --app PATH``: change an image in Git, commit and push."""

from __future__ import annotations

from typing import Annotated

import typer

from gitops_release.cli.app import app
from gitops_release.cli.common import DebugOpt, DryRunOpt, OutputFormat, OutputOpt, make_output
from gitops_release.cli.options import (
    NO_OPTIONS,
    ArgoOptions,
    InsecureRegistryOpt,
    PinDigestOpt,
    RecordOpt,
    SemverOpt,
    VerifyImageOpt,
    argo_options,
    complete_app,
    registry_flags,
)

HELP = """Change an app's image in the GitOps repository, commit and push.

TAG_OR_REF is a tag (v2: the repository part stays) or a full reference
(registry:5000/team/app:v2@sha256:...). --app is a directory (or one file) inside the repository;
or --argocd-app NAME takes the repository, path and branch from that Argo CD Application (and
warns when the Application overrides the image itself, which would hide a Git change).
The file changes only inside the edited value: comments, quoting, layout and other documents stay
byte for byte. A tag change drops a stale digest unless --digest gives the new one;
--pin-digest asks the registry for it and writes image:tag@sha256:... .

Which image: the one image repository found under --app, or the one --container / --image-name
/ --value-path names (an ambiguous choice lists the candidates and changes nothing). A Helm chart
(a directory with Chart.yaml) is bumped in its values files, never in templates/.

A release set changes several apps in ONE commit (a trailer group per app), pushed like one:
--set APP=TAG[:expect=CURRENT] per app (APP a path like --app, or with --argocd-apps an Argo CD
Application; no positional tag, no --app).
Every edit is checked before any file is written; after a lost race all are re-applied.

\b
Git: a local checkout (--repo DIR, default .) must be clean and on a branch; it is fetched and
fast-forwarded first, and refused when ahead of or diverged from its remote (unless --no-push).
A URL (--repo https://...) is cloned partially and sparsely into a temporary directory, removed
afterwards. A push that loses a race re-applies the same edit on the new tip (10 attempts, 60 s);
a protected branch or hook exits 4 (try --merge-request). The token comes from
GITOPS_RELEASE_GIT_TOKEN (user GITOPS_RELEASE_GIT_USER, default oauth2), never from a flag.

\b
Examples:
  release bump-image v2 --app apps/myapp
  release bump-image v2 --app apps/myapp --expect-current v1 --skip-ci --output json
  release bump-image registry.example.com/team/myapp:1.5.0 --app apps/myapp --container web
  GITOPS_RELEASE_GIT_TOKEN=... release bump-image v2 --repo https://gitlab.example.com/team/gitops.git --app apps/myapp
  release bump-image v2 --app apps/myapp --dry-run      # print the diff, change nothing
  release bump-image v2 --app apps/myapp --pin-digest   # image:v2@sha256:... from the registry
  release bump-image --semver '~1.4' --expect-current v1.4.2 --app apps/myapp   # newest patch
  ARGOCD_AUTH_TOKEN=... release bump-image v2 --argocd-app myapp   # repo/path/branch from Argo CD
  release bump-image --set apps/api=v2 --set apps/worker=v2:expect=v1   # one commit, two apps

\b
Exit codes: 0 done or already at that value, 2 bad input / dirty tree / ambiguous image,
4 remote refused or unreachable (protected branch), 5 not landed (--expect-current mismatch,
still rejected after retries).
"""


@app.command("bump-image", help=HELP, no_args_is_help=True)
@argo_options()
def bump_image_command(
    tag_or_ref: Annotated[
        str | None,
        typer.Argument(
            metavar="[TAG_OR_REF]",
            help="New tag (v2) or full image reference (with --semver: the repository, or none).",
            show_default=False,
        ),
    ] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="APP=TAG[:expect=CURRENT]",
            help="A release set: this app (a path, like --app) to this tag; repeat per app. "
            "All in one commit.",
        ),
    ] = None,
    argocd_apps: Annotated[
        bool,
        typer.Option(
            "--argocd-apps",
            help="With --set: the names are Argo CD Applications (repository, paths and branch "
            "from their sources).",
        ),
    ] = False,
    app_path: Annotated[
        str | None,
        typer.Option(
            "--app", help="App directory or file inside the repository (or use --argocd-app)."
        ),
    ] = None,
    repo: Annotated[
        str | None,
        typer.Option("--repo", help="Local checkout (default .) or a git URL to clone."),
    ] = None,
    argocd_app: Annotated[
        str | None,
        typer.Option(
            "--argocd-app",
            help="Take repository, path and branch from this Argo CD Application's source.",
            autocompletion=complete_app,
        ),
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option("--branch", help="Branch to release on. [default: checkout's / remote HEAD]"),
    ] = None,
    container: Annotated[
        str | None, typer.Option("--container", help="Edit the container with this name.")
    ] = None,
    image_name: Annotated[
        str | None,
        typer.Option("--image-name", help="Edit the image with this repository, e.g. team/app."),
    ] = None,
    digest: Annotated[
        str | None, typer.Option("--digest", help="Pin the new image to sha256:... too.")
    ] = None,
    values_files: Annotated[
        list[str] | None,
        typer.Option(
            "--values-file",
            help="Helm chart: a values file, relative to the chart, in Helm's order (repeat); "
            "the last that sets the image is edited. [default: the Application's valueFiles, "
            "else values.yaml]",
        ),
    ] = None,
    value_path: Annotated[
        str | None,
        typer.Option(
            "--value-path", help="Helm values: the image's path, e.g. image or cache.image.tag."
        ),
    ] = None,
    expect_current: Annotated[
        str | None,
        typer.Option(
            "--expect-current",
            help="Compare-and-swap: only change it if the remote tip holds this tag (else exit 5).",
        ),
    ] = None,
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="Commit subject (trailers are added).")
    ] = None,
    skip_ci: Annotated[
        bool, typer.Option("--skip-ci", help="Add [skip ci] to the commit subject.")
    ] = False,
    no_push: Annotated[
        bool, typer.Option("--no-push", help="Commit in the local checkout, do not push.")
    ] = False,
    merge_request: Annotated[
        bool,
        typer.Option(
            "--merge-request",
            help="Push a new branch with GitLab push options that open a merge request.",
        ),
    ] = False,
    all_aliases: Annotated[
        bool,
        typer.Option("--all-aliases", help="Also change values shared through a YAML anchor."),
    ] = False,
    pin_digest: PinDigestOpt = False,
    semver: SemverOpt = None,
    verify_image: VerifyImageOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    record: RecordOpt = None,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
    argo: ArgoOptions = NO_OPTIONS,
) -> None:
    from dataclasses import replace

    from gitops_release import config
    from gitops_release.release.edit import BumpRequest

    out = make_output(output)
    registry = registry_flags(verify_image, insecure_registry)
    settings = config.resolve({"branch": branch, "ca_bundle": argo.ca_bundle, **registry})
    if not argocd_app and app_path is None and not sets:
        raise typer.BadParameter("give --app PATH, or --argocd-app NAME", param_hint="--app")
    request = BumpRequest(
        tag_or_ref=tag_or_ref or "",
        app=app_path or "",
        repo=repo or ("" if argocd_app else "."),
        branch=settings.get("branch"),
        container=container,
        image_name=image_name,
        digest=digest,
        value_files=tuple(values_files or ()),
        value_path=value_path,
        pin_digest=pin_digest,
        semver=semver,
        expect_current=expect_current,
        message=message,
        skip_ci=skip_ci,
        no_push=no_push,
        merge_request=merge_request,
        all_aliases=all_aliases,
        dry_run=dry_run,
        record=record,
    )
    if sets:
        from gitops_release.release.releaseset import bump_set, parse_members

        if argocd_app:
            raise typer.BadParameter(
                "--set names the apps; for Argo CD Applications use --argocd-apps",
                param_hint="--argocd-app",
            )
        members = parse_members(sets)
        if argocd_apps:
            from gitops_release.release.setapps import bump_set_from_applications

            conn = argo.connect(extra=registry)
            request = replace(request, repo=repo or "")
            out.show(bump_set_from_applications(conn, members, request, out=out))
            return
        out.show(bump_set(members, request, settings=settings, out=out))
        return
    if argocd_apps:
        raise typer.BadParameter("--argocd-apps names the apps of a --set", param_hint="--set")
    if argocd_app:
        from gitops_release.release.app import bump_from_application

        conn = argo.connect(extra=registry)
        result = bump_from_application(conn, argocd_app, request, out=out)
    else:
        from gitops_release.release.app import bump_path

        conn = argo.connect(extra=registry)
        result = bump_path(request, settings=settings, conn=conn, out=out)
    out.show(result)
