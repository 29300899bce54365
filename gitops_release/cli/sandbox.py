"""``gitops-release sandbox up`` and ``sandbox demo``: a local Argo CD + Argo Rollouts + Traefik."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from gitops_release.cli.app import Typer, app
from gitops_release.cli.common import DebugOpt
from gitops_release.errors import Failed, UsageError

sandbox_app = Typer(
    name="sandbox",
    help="A local Argo CD + Argo Rollouts + Traefik that speaks the real APIs (for demos, tests, CI dry runs).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
app.add_typer(sandbox_app, name="sandbox")


class LogLevel(enum.StrEnum):
    """The sandbox's log levels (``gitops_release.sandbox.server.LOG_LEVELS``)."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


@sandbox_app.command("up")
def up(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Argo CD + Rollouts API port (0: a free one).")
    ] = 0,
    git_port: Annotated[
        int,
        typer.Option(
            "--git-port",
            help="Git server port (0: a free one); fix it with --state-dir to keep repo URLs across restarts.",
        ),
    ] = 0,
    ingress_port: Annotated[
        int, typer.Option("--ingress-port", help="Ingress port (0: a free one).")
    ] = 0,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            help="Keep git repositories and Applications here across restarts (default: a temporary dir, removed at exit).",
        ),
    ] = None,
    time_scale: Annotated[
        float,
        typer.Option(
            "--time-scale",
            help="Controller time factor: 0.01 makes 30 s of rollout time take 0.3 s.",
        ),
    ] = 1.0,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="Also write the export lines to this file (mode 0600)."),
    ] = None,
    prometheus: Annotated[
        bool,
        typer.Option(
            "--prometheus",
            help="Also run a real Prometheus (Debian's prometheus) scraping the pods' metrics "
            "every second; its address is SANDBOX_PROMETHEUS.",
        ),
    ] = False,
    registry: Annotated[
        bool,
        typer.Option(
            "--registry",
            help="Also run a registry (Debian's docker-registry; SANDBOX_REGISTRY): the cluster "
            "cannot pull a tag it does not have (ErrImagePull, ImagePullBackOff).",
        ),
    ] = False,
    log_level: Annotated[
        LogLevel,
        typer.Option(
            "--log-level",
            help="debug: also one line per request; info: syncs, refused requests, start-up;"
            " warning: only what needs a look.",
        ),
    ] = LogLevel.info,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Same as --log-level warning.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Run the sandbox in the foreground until Ctrl-C / SIGTERM.

    When ready it prints export lines on stdout (ARGOCD_SERVER, ARGOCD_AUTH_TOKEN,
    SANDBOX_ADMIN_PASSWORD, ROLLOUTS_SERVER, SANDBOX_GIT, SANDBOX_GIT_TOKEN, with --prometheus
    SANDBOX_PROMETHEUS, with --registry SANDBOX_REGISTRY, GITOPS_RELEASE_INGRESS_URL,
    SANDBOX_INGRESS last); logs go to stderr, with the one line that makes plain git push to
    SANDBOX_GIT work (a credential helper reading $SANDBOX_GIT_TOKEN at push time).

    \b
    Example:
      gitops-release sandbox up --time-scale 0.1 --env-file sandbox.env &
      until [ -s sandbox.env ]; do sleep 0.2; done
      . ./sandbox.env && curl -H 'Host: prod.myapp.com' $SANDBOX_INGRESS
    """
    from gitops_release.sandbox.prometheus import INSTALL_HINT, PrometheusFailed, find_binary
    from gitops_release.sandbox.runner import up as run_up
    from gitops_release.sandbox.server import SandboxConfig

    if time_scale <= 0:
        raise UsageError(
            f"--time-scale: must be > 0, got {time_scale}", hint="try --time-scale 0.01"
        )
    for name, value in (
        ("--port", port),
        ("--ingress-port", ingress_port),
        ("--git-port", git_port),
    ):
        if not 0 <= value <= 65535:
            raise UsageError(f"{name}: {value} is not a TCP port", hint="use 0 for a free port")
    if state_dir is not None and state_dir.exists() and not state_dir.is_dir():
        raise UsageError(f"--state-dir: {state_dir} is not a directory")
    if env_file is not None:
        _check_env_file(env_file)
    if prometheus and find_binary() is None:
        raise UsageError("--prometheus: prometheus is not installed", hint=INSTALL_HINT)
    if registry:
        from gitops_release.sandbox.registry import RegistryUnavailable
        from gitops_release.sandbox.registry import find_binary as find_registry

        try:
            find_registry()
        except RegistryUnavailable as err:
            raise UsageError(str(err)) from None
    config = SandboxConfig(
        prometheus=prometheus,
        host=host,
        port=port,
        ingress_port=ingress_port,
        git_port=git_port,
        state_dir=state_dir,
        time_scale=time_scale,
        verbose=True,  # request and sync lines on stderr
        registry=registry,
        log_level=LogLevel.warning.value if quiet else log_level.value,
    )
    try:
        run_up(config, env_file=env_file)
    except OSError as err:
        if env_file is not None and err.filename == str(env_file):
            raise UsageError(
                f"--env-file {env_file}: cannot write it: {err.strerror or err}",
                hint="pick a writable path",
            ) from None
        raise UsageError(
            f"sandbox: cannot listen on {host}: {err.strerror or err}",
            hint="pick another --port or --host",
        ) from None
    except PrometheusFailed as err:
        raise Failed(f"sandbox: {err}", hint="run it without --prometheus") from None


def _check_env_file(env_file: Path) -> None:
    """Refuse an env file that cannot be written, naming it, before anything starts."""
    parent = env_file.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise UsageError(
            f"--env-file {env_file}: the directory {parent} {what}",
            hint=f"create it first (mkdir -p {parent}) or pick another path",
        )
    if env_file.is_dir():
        raise UsageError(
            f"--env-file {env_file}: {env_file} is a directory",
            hint=f"name a file in it, e.g. --env-file {env_file / 'sandbox.env'}",
        )


@sandbox_app.command("demo")
def demo(
    time_scale: Annotated[
        float, typer.Option("--time-scale", help="Controller time factor for the demo.")
    ] = 0.01,
    debug: DebugOpt = False,
) -> None:
    """Play the blue-green guide on a fresh in-process sandbox and check every step.

    Scaffold myapp (ikubernetes/myapp:v1), push, create the Application, v1 live; bump to v2
    (preview paused: prod v1, test v2); promote; roll back to v1 through Git; bump to v3 and abort.
    Exit 0 only when every step showed what it should.

    \b
    Example:
      gitops-release sandbox demo
    """
    from gitops_release.sandbox.runner import demo as run_demo

    if time_scale <= 0:
        raise UsageError(
            f"--time-scale: must be > 0, got {time_scale}", hint="try --time-scale 0.01"
        )
    if not run_demo(time_scale=time_scale):
        raise Failed(
            "sandbox demo: a step did not show what it should (see the [FAILED] lines above)",
            hint="rerun with --debug, or report it: the sandbox or a command regressed",
        )
