"""``abort`` and ``rollback``: going back, through Git, so that Git stays the truth."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from gitops_release.argo.types import Via
from gitops_release.cli.app import app
from gitops_release.cli.common import DebugOpt, DryRunOpt, OutputFormat, OutputOpt, make_output
from gitops_release.cli.options import (
    CONNECTION_HELP,
    NO_OPTIONS,
    AppArg,
    ArgoOptions,
    InsecureRegistryOpt,
    NamespaceOpt,
    RecordOpt,
    RolloutOpt,
    RolloutsServerOpt,
    TimeoutOpt,
    VerifyImageOpt,
    ViaOpt,
    argo_options,
    complete_app,
    registry_flags,
)


class RollbackVia(enum.StrEnum):
    git = "git"
    argocd_history = "argocd-history"


@app.command(
    "abort",
    help=f"""Abort the Rollout's update, then write the stable image back to Git.

The abort action puts traffic back on the stable ReplicaSet at once and scales the preview down;
the Rollout stays Degraded while Git still asks for the aborted image. So, by default, the stable
image is then committed to the app's source ([skip ci]) and the command waits until Argo CD and
the Rollout are Healthy on it: Git and the cluster agree again. --no-revert only aborts.

\b
Examples:
  gitops-release abort myapp
  gitops-release abort myapp --record abort.json --output json
  gitops-release abort myapp --no-revert --via dashboard --rollouts-server http://127.0.0.1:3100

{CONNECTION_HELP}""",
)
@argo_options()
def abort_command(
    name: AppArg,
    no_revert: Annotated[
        bool, typer.Option("--no-revert", help="Only abort; leave Git as it is.")
    ] = False,
    record: RecordOpt = None,
    via: ViaOpt = Via.argocd,
    rollout: RolloutOpt = None,
    namespace: NamespaceOpt = None,
    rollouts_server: RolloutsServerOpt = None,
    timeout: TimeoutOpt = None,
    argo: ArgoOptions = NO_OPTIONS,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release.release import rollback

    out = make_output(output)
    conn = argo.connect(timeout=timeout, rollouts_server=rollouts_server)
    out.show(
        rollback.abort(
            conn, name, revert=not no_revert, via=via, rollout=rollout, namespace=namespace,
            record=record, out=out, dry_run=dry_run,
        )
    )  # fmt: skip


@app.command(
    "rollback",
    help=f"""Roll an app back through Git: write the previous (or --to) image, push, wait.

The previous image is read from the Release-Image / Release-Previous trailers of the app's
commits (images a revert moved away from are skipped). --to names a version the app has run
(else exit 2, listing them; going forward is `deploy`); the one it is on changes nothing.
The new Git commit carries [skip ci].
It waits for preview-ready (a fast rollback to a ReplicaSet still inside its scale-down delay
goes straight to released), and with --promote for released.

A tag re-pushed since it was released (its registry digest differs from the Release-Digest
trailer) is refused, exit 2: --pin-digest goes back to the recorded digest (tag@sha256:...),
--allow-retagged to the tag's new content.

--set COMMIT undoes a release set (bump-image/deploy --set): every app that commit changed goes
back to the image it replaced, in ONE commit ([skip ci]), in --repo (default .); an app changed
since is refused (exit 5). Argo CD then takes the commit like any other (auto-sync or `sync`).
--via argocd-history uses Argo CD's own history rollback instead: only for apps without
auto-sync (Argo CD refuses it otherwise), and Git keeps the newer image until someone changes it.

\b
Examples:
  gitops-release rollback myapp
  gitops-release rollback myapp --to v1 --promote --record rollback.json
  gitops-release rollback myapp --via argocd-history
  gitops-release rollback --set 1a2b3c4d --repo .   # undo a release set in one commit

{CONNECTION_HELP}""",
    no_args_is_help=True,
)
@argo_options()
def rollback_command(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="[APP]",
            help="Argo CD Application name.",
            show_default=False,
            autocompletion=complete_app,
        ),
    ] = None,
    release_set: Annotated[
        str | None,
        typer.Option(
            "--set",
            metavar="COMMIT",
            help="Undo a release set: every app that commit changed, back in ONE commit "
            "(Git only; no APP).",
            show_default=False,
        ),
    ] = None,
    repo: Annotated[
        str | None,
        typer.Option(
            "--repo", help="With --set: local checkout (default .) or git URL.", show_default=False
        ),
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option("--branch", help="With --set: the branch.", show_default=False),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Tag or image to go back to. [default: the previous release]",
            show_default=False,
        ),
    ] = None,
    promote: Annotated[
        bool, typer.Option("--promote", help="Promote and wait for released.")
    ] = False,
    via: Annotated[
        RollbackVia,
        typer.Option(
            "--via", help="git (a commit, the default) or argocd-history (no auto-sync only)."
        ),
    ] = RollbackVia.git,
    pin_digest: Annotated[
        bool,
        typer.Option(
            "--pin-digest",
            help="Write tag@sha256:... with the digest recorded when it was released "
            "(else the registry's now).",
        ),
    ] = False,
    allow_retagged: Annotated[
        bool,
        typer.Option("--allow-retagged", help="Go back to the tag even if it was re-pushed since."),
    ] = False,
    record: RecordOpt = None,
    verify_image: VerifyImageOpt = None,
    insecure_registry: InsecureRegistryOpt = None,
    rollout: RolloutOpt = None,
    timeout: TimeoutOpt = None,
    argo: ArgoOptions = NO_OPTIONS,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release.release import rollback

    out = make_output(output)
    if release_set is not None:
        from gitops_release import config
        from gitops_release.release.edit import BumpRequest
        from gitops_release.release.setrollback import undo_set

        if name is not None or to is not None or via is not RollbackVia.git:
            raise typer.BadParameter(
                "--set undoes a whole set: no APP, --to or --via", param_hint="--set"
            )
        settings = config.resolve({"branch": branch, "ca_bundle": argo.ca_bundle})
        request = BumpRequest(
            tag_or_ref="", app="", repo=repo or ".", branch=settings.get("branch"),
            record=record, dry_run=dry_run,
        )  # fmt: skip
        out.show(undo_set(release_set, request, settings=settings, out=out))
        return
    if name is None:
        raise typer.BadParameter("give APP (or --set COMMIT)", param_hint="APP")
    conn = argo.connect(timeout=timeout, extra=registry_flags(verify_image, insecure_registry))
    result = rollback.rollback(
        conn, name, to=to, promote=promote, via_history=via is RollbackVia.argocd_history,
        rollout=rollout, pin_digest=pin_digest, allow_retagged=allow_retagged, record=record,
        out=out, dry_run=dry_run,
    )  # fmt: skip
    out.show(result)
