"""``gitops-release scaffold APP``: write a blue-green app directory and its Argo CD Application."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gitops_release.cli.app import app
from gitops_release.cli.common import DebugOpt, DryRunOpt, OutputFormat, OutputOpt, make_output

HELP = """Write a blue-green app into a GitOps repository checkout.

\b
Files (APP/ is --path, default APP):
  APP/rollout.yaml        Argo Rollouts Rollout, strategy blueGreen (manual promotion unless --auto-promote)
  APP/service.yaml        Services APP-active and APP-preview
  APP/ingress.yaml        Traefik IngressRoutes APP-prod (--prod-host) and APP-test (--preview-host)
  APP/kustomization.yaml  only with --kustomize
  argocd/APP.yaml         the Argo CD Application (outside APP/, so Argo CD does not deploy it there)

The files are rendered from templates/app (or --templates DIR), checked with `lint`, and written
only when every value is valid and nothing would be overwritten (--force overwrites). Bad input
exits 2 naming the field and writes nothing.

\b
Examples:
  gitops-release scaffold myapp --image ikubernetes/myapp:v1 \\
      --prod-host prod.myapp.com --preview-host test.myapp.com
  gitops-release scaffold myapp --image registry.example.com/team/myapp:1.4.2 \\
      --prod-host myapp.example.com --preview-host preview.myapp.example.com \\
      --path apps/myapp --namespace shop --kustomize --commit --push
  gitops-release scaffold myapp ... --dry-run     # print the files, write nothing
"""


@app.command("scaffold", help=HELP, no_args_is_help=True)
def scaffold_command(
    name: Annotated[
        str,
        typer.Argument(
            metavar="APP",
            help="App name (DNS-1035 label, at most 55 characters so that the preview Service,"
            " APP-preview, fits 63): Rollout, Application and directory.",
        ),
    ],
    image: Annotated[
        str,
        typer.Option("--image", help="Container image with its tag, e.g. ikubernetes/myapp:v1."),
    ],
    prod_host: Annotated[str, typer.Option("--prod-host", help="Production host name.")],
    preview_host: Annotated[
        str,
        typer.Option("--preview-host", help="Preview (test) host name, distinct from --prod-host."),
    ],
    repo_dir: Annotated[
        Path, typer.Option("--repo-dir", help="The GitOps repository checkout.")
    ] = Path("."),
    path: Annotated[
        str | None,
        typer.Option("--path", help="App directory inside the repository. [default: APP]"),
    ] = None,
    replicas: Annotated[int, typer.Option("--replicas", help="Pods serving production.")] = 2,
    preview_replica_count: Annotated[
        int, typer.Option("--preview-replica-count", help="Pods of a new version while in preview.")
    ] = 1,
    revision_history_limit: Annotated[
        int, typer.Option("--revision-history-limit", help="Old ReplicaSets kept for rollback.")
    ] = 2,
    container_port: Annotated[
        int, typer.Option("--container-port", help="Port the container listens on (named http).")
    ] = 80,
    port: Annotated[
        int, typer.Option("--port", help="Service port, used by the IngressRoutes.")
    ] = 80,
    auto_promote: Annotated[
        bool,
        typer.Option(
            "--auto-promote", help="Promote without a manual step (autoPromotionEnabled: true)."
        ),
    ] = False,
    auto_promotion_seconds: Annotated[
        int | None,
        typer.Option(
            "--auto-promotion-seconds",
            help="With --auto-promote: promote this long after the pause.",
        ),
    ] = None,
    scale_down_delay_seconds: Annotated[
        int | None,
        typer.Option(
            "--scale-down-delay-seconds",
            help="Keep the old version this long after the switch. [default: not written; Argo Rollouts uses 30]",
        ),
    ] = None,
    entrypoint: Annotated[
        str, typer.Option("--entrypoint", help="Traefik entry point of both IngressRoutes.")
    ] = "web",
    namespace: Annotated[
        str, typer.Option("--namespace", help="Namespace Argo CD deploys the app into.")
    ] = "default",
    project: Annotated[str, typer.Option("--project", help="Argo CD project.")] = "default",
    repo_url: Annotated[
        str | None,
        typer.Option(
            "--repo-url",
            help="Repository URL Argo CD reads. [default: the checkout's origin, credentials removed]",
        ),
    ] = None,
    target_revision: Annotated[
        str | None,
        typer.Option(
            "--target-revision", help="Branch Argo CD follows. [default: the current branch]"
        ),
    ] = None,
    auto_sync: Annotated[
        bool,
        typer.Option(
            "--auto-sync/--no-auto-sync",
            help="Write syncPolicy.automated (Argo CD syncs each commit).",
        ),
    ] = True,
    prune: Annotated[
        bool, typer.Option("--prune", help="Automated sync also deletes objects removed from Git.")
    ] = False,
    self_heal: Annotated[
        bool,
        typer.Option(
            "--self-heal", help="Automated sync also reverts changes made in the cluster."
        ),
    ] = False,
    kustomize: Annotated[
        bool,
        typer.Option(
            "--kustomize", help="Also write APP/kustomization.yaml listing the three files."
        ),
    ] = False,
    templates: Annotated[
        Path | None,
        typer.Option(
            "--templates", help="Your own copies of templates/app (same five file names)."
        ),
    ] = None,
    analysis: Annotated[
        str | None,
        typer.Option(
            "--analysis",
            metavar="prometheus|web",
            help="Also write APP/analysis.yaml (an AnalysisTemplate) and the Rollout's prePromotionAnalysis on the preview Service.",
            show_default=False,
        ),
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(
            "--query",
            help="PromQL of --analysis prometheus ({{args.service-name}} is the preview Service).",
            show_default=False,
        ),
    ] = None,
    prometheus_address: Annotated[
        str, typer.Option("--prometheus-address", help="Prometheus of --analysis prometheus.")
    ] = "http://prometheus.monitoring:9090",
    url: Annotated[
        str | None,
        typer.Option("--url", help="URL of --analysis web.", show_default=False),
    ] = None,
    json_path: Annotated[
        str | None,
        typer.Option(
            "--json-path", help="Value read from the web answer, e.g. {$.rate}.", show_default=False
        ),
    ] = None,
    success_condition: Annotated[
        str | None,
        typer.Option(
            "--success-condition",
            help="When a measurement passes, e.g. 'result[0] < 0.01'.",
            show_default=False,
        ),
    ] = None,
    failure_condition: Annotated[
        str | None,
        typer.Option(
            "--failure-condition", help="When a measurement fails (optional).", show_default=False
        ),
    ] = None,
    analysis_count: Annotated[
        int, typer.Option("--analysis-count", help="Measurements the analysis takes.")
    ] = 3,
    analysis_interval: Annotated[
        str, typer.Option("--analysis-interval", help="Time between measurements (30s, 1m).")
    ] = "30s",
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite existing scaffold files.")
    ] = False,
    commit: Annotated[bool, typer.Option("--commit", help="Commit the new files.")] = False,
    push: Annotated[
        bool, typer.Option("--push", help="Commit and push the current branch to origin.")
    ] = False,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputFormat.text,
    debug: DebugOpt = False,
) -> None:
    from gitops_release import config
    from gitops_release.scaffold.spec import AppSpec
    from gitops_release.scaffold.write import scaffold

    out = make_output(output)
    spec = AppSpec(
        app=name,
        image=image,
        prod_host=prod_host,
        preview_host=preview_host,
        replicas=replicas,
        revision_history_limit=revision_history_limit,
        container_port=container_port,
        port=port,
        auto_promote=auto_promote,
        preview_replica_count=preview_replica_count,
        scale_down_delay_seconds=scale_down_delay_seconds,
        auto_promotion_seconds=auto_promotion_seconds,
        entrypoint=entrypoint,
        project=project,
        repo_url=repo_url,
        target_revision=target_revision,
        namespace=namespace,
        auto_sync=auto_sync,
        prune=prune,
        self_heal=self_heal,
        path=path,
        analysis=analysis,
        analysis_query=query,
        prometheus_address=prometheus_address,
        analysis_url=url,
        analysis_json_path=json_path,
        success_condition=success_condition,
        failure_condition=failure_condition,
        analysis_count=analysis_count,
        analysis_interval=analysis_interval,
    )
    settings = config.resolve(cwd=repo_dir) if push else None
    result = scaffold(
        spec,
        repo_dir=repo_dir,
        templates=templates,
        kustomize=kustomize,
        force=force,
        dry_run=dry_run,
        commit=commit,
        push=push,
        settings=settings,
    )
    for warning in result.warnings:
        out.warn(warning)
    out.show(result)
