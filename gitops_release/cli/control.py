"""Commands that act on a Rollout through Argo CD (or the Rollouts dashboard): ``sync``, ``wait``,
``promote``, ``retry``, ``restart``. (``abort`` is with ``rollback`` in ``cli/rollback.py``.)"""

from __future__ import annotations

from typing import Annotated

import typer

from gitops_release.argo.types import Action, Target, Via
from gitops_release.cli.app import app
from gitops_release.cli.common import DebugOpt, DryRunOpt, OutputFormat, OutputOpt, make_output
from gitops_release.cli.options import (
    CONNECTION_HELP,
    NO_OPTIONS,
    AppArg,
    ArgoOptions,
    NamespaceOpt,
    RolloutOpt,
    RolloutsServerOpt,
    TimeoutOpt,
    ViaOpt,
    argo_options,
)


@app.command(
    "sync",
    help=f"""Refresh the app, sync it, and wait until the synced revision is live.

Refreshes first (no 3-minute poll). If an operation is running, waits for it, then syncs. With
auto-sync on, Argo CD refuses a pinned --revision, so it refreshes and waits for auto-sync instead;
a --revision not on the branch auto-sync follows (or no such commit) fails at once (exit 4) with
Argo CD's reason.

\b
Examples:
  gitops-release sync myapp
  gitops-release sync myapp --revision 3f2c1a9 --prune --timeout 5m

{CONNECTION_HELP}""",
)
@argo_options()
def sync_command(
    name: AppArg,
    revision: Annotated[
        str | None,
        typer.Option(
            "--revision", help="Sync this commit (not with auto-sync).", show_default=False
        ),
    ] = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete resources no longer in Git.")
    ] = False,
    rollout: RolloutOpt = None,
    timeout: TimeoutOpt = None,
    argo: ArgoOptions = NO_OPTIONS,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release.release import control

    out = make_output(output)
    conn = argo.connect(timeout=timeout)
    out.show(
        control.sync(
            conn, name, revision=revision, prune=prune, rollout=rollout, out=out, dry_run=dry_run
        )
    )


@app.command(
    "wait",
    help=f"""Wait until the app reaches a target state, pinned to a commit and an image.

\b
  synced         Argo CD synced a revision containing the commit; the Rollout asks for the image
  preview-ready  synced, Rollout paused (BlueGreenPause), preview ReplicaSet available on the image
  released       synced, app and Rollout Healthy, the active ReplicaSet runs the image

By default the commit is the tip of the app's target branch (after a refresh) and the image the
one its manifests ask for. Fails at once (exit 1) when the Rollout goes Degraded or the sync
fails; exits 6 on timeout, saying what was still missing.

\b
Examples:
  gitops-release wait myapp --for preview-ready
  gitops-release wait myapp --for released --image ikubernetes/myapp:v2 --timeout 15m
  gitops-release wait myapp --for synced --revision 3f2c1a9 --output json

{CONNECTION_HELP}""",
)
@argo_options()
def wait_command(
    name: AppArg,
    target: Annotated[Target, typer.Option("--for", help="Target state.")] = Target.released,
    revision: Annotated[
        str | None,
        typer.Option("--revision", help="Commit that must be deployed.", show_default=False),
    ] = None,
    image: Annotated[
        str | None, typer.Option("--image", help="Image the Rollout must run.", show_default=False)
    ] = None,
    rollout: RolloutOpt = None,
    timeout: TimeoutOpt = None,
    argo: ArgoOptions = NO_OPTIONS,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release.release import control

    out = make_output(output)
    conn = argo.connect(timeout=timeout)
    out.show(
        control.wait(conn, name, target, revision=revision, image=image, rollout=rollout, out=out)
    )


def _action(
    name: str,
    action_name: str,
    *,
    via: Via,
    rollout: str | None,
    namespace: str | None,
    wait_released: bool,
    timeout: str | None,
    rollouts_server: str | None,
    argo: ArgoOptions,
    output: OutputFormat,
    dry_run: bool = False,
) -> None:
    from gitops_release.release import control
    from gitops_release.release.plan import Plan

    out = make_output(output)
    conn = argo.connect(timeout=timeout, rollouts_server=rollouts_server)
    plan = Plan(f"{action_name} {name}", name) if dry_run else None
    done = control.rollout_action(
        conn, name, Action(action_name), via=via, rollout=rollout, namespace=namespace,
        wait_released=wait_released, out=out, plan=plan,
    )  # fmt: skip
    out.show(done)


def _register(action_name: str, summary: str, examples: str) -> None:
    @argo_options()
    def command(
        name: AppArg,
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
        _action(
            name, action_name, via=via, rollout=rollout, namespace=namespace, wait_released=False,
            timeout=timeout, rollouts_server=rollouts_server, argo=argo, output=output,
            dry_run=dry_run,
        )  # fmt: skip

    app.command(action_name, help=f"{summary}\n\n\b\nExamples:\n{examples}\n\n{CONNECTION_HELP}")(
        command
    )


_register(
    "retry",
    "Retry an aborted Rollout: the preview scales up again and pauses for promotion.",
    "  gitops-release retry myapp",
)
_register(
    "restart",
    "Restart the Rollout's pods (sets spec.restartAt); confirms the controller saw it.",
    "  gitops-release restart myapp",
)


@app.command(
    "promote",
    help=f"""Promote the paused Rollout: the preview becomes active (prod).

A promote of a Rollout that is not paused is a silent no-op upstream: this command checks first.
An update still on its way to the pause, or aborted, exits 1 saying so; a Rollout already fully
promoted exits 0 with "nothing to promote" (a re-run promote job passes). --full skips the pause
and analysis. --wait waits for released.

\b
Examples:
  gitops-release promote myapp
  gitops-release promote myapp --wait --timeout 10m
  gitops-release promote myapp --full --via dashboard

{CONNECTION_HELP}""",
)
@argo_options()
def promote_command(
    name: AppArg,
    full: Annotated[
        bool, typer.Option("--full", help="Skip remaining pauses and analysis (promote-full).")
    ] = False,
    wait_released: Annotated[
        bool, typer.Option("--wait", help="Then wait until released.")
    ] = False,
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
    _action(
        name, "promote-full" if full else "promote", via=via, rollout=rollout, namespace=namespace,
        wait_released=wait_released, timeout=timeout, rollouts_server=rollouts_server,
        argo=argo, output=output, dry_run=dry_run,
    )  # fmt: skip
