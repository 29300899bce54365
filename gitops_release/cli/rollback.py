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

--via argocd-history uses Argo CD's own history rollback instead: only for apps without
auto-sync (Argo CD refuses it otherwise), and Git keeps the newer image until someone changes it.

\b
Examples:
  gitops-release rollback myapp
  gitops-release rollback myapp --to v1 --promote --record rollback.json
  gitops-release rollback myapp --via argocd-history

{CONNECTION_HELP}""",
    no_args_is_help=True,
)
@argo_options()
def rollback_command(
    name: AppArg,
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
    conn = argo.connect(timeout=timeout, extra=registry_flags(verify_image, insecure_registry))
    result = rollback.rollback(
        conn, name, to=to, promote=promote, via_history=via is RollbackVia.argocd_history,
        rollout=rollout, pin_digest=pin_digest, allow_retagged=allow_retagged, record=record,
        out=out, dry_run=dry_run,
    )  # fmt: skip
    out.show(result)
