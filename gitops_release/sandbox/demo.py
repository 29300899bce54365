"""``gitops-release sandbox demo``: the guide's whole story on a fresh in-process sandbox.

It plays the user with the tool's own commands, each run as a separate ``gitops-release``
process (so this package still shares no code with the client): ``scaffold`` ``myapp`` (image
``ikubernetes/myapp:v1``) and push with plain git, ``app create`` (v1 live on both hosts),
``deploy v2`` (preview paused: prod v1, test v2), ``promote --wait`` (both v2), ``rollback --to
v1`` and promote, ``deploy v3`` then ``abort`` (prod keeps serving v1; Git is written back to v1,
so the app is Healthy again), a ``deploy v4`` whose smoke check fails (aborted and reverted on
its own), and, when Debian's ``docker-registry`` is installed (the sandbox then runs one), a deploy
of a typo'd tag that the registry check refuses before Git, timed. Each step prints what a user
would see (``gitops-release status``: the app, and the Rollout tree as ``kubectl argo rollouts get
rollout`` draws it) and checks it; the exit code is 0 only when every check passed. Everything it
starts is stopped before it returns.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from gitops_release.sandbox.registry import BINARY, LocalRegistry
from gitops_release.sandbox.server import Sandbox, SandboxConfig

APP = "myapp"
PROD, TEST = "prod.myapp.com", "test.myapp.com"
INFO = f"/rollouts/api/v1/rollouts/default/{APP}/info"


class DemoFailed(Exception):
    pass


class Demo:
    def __init__(self, sb: Sandbox, work: Path, out: TextIO, wait_seconds: float = 30.0) -> None:
        self.sb, self.work, self.out, self.wait_seconds = sb, work, out, wait_seconds
        self.checks: list[tuple[str, bool]] = []
        self.status_explained = False
        # plain git, as a user has it after sourcing the env file: the token in the environment,
        # read by the credential helper `sandbox up` prints (set up in scaffold_and_push)
        self.env = {**os.environ, "SANDBOX_GIT_TOKEN": sb.git_token, "GIT_TERMINAL_PROMPT": "0"}
        self.env.update(
            GIT_AUTHOR_NAME="Demo",
            GIT_AUTHOR_EMAIL="demo@example.com",
            GIT_COMMITTER_NAME="Demo",
            GIT_COMMITTER_EMAIL="demo@example.com",
        )
        self.repo_url = sb.repo_url("gitops")

    # output ------------------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def step(self, title: str) -> None:
        self.say(f"\n=== {title} ===")

    def check(self, what: str, ok: bool) -> None:
        self.checks.append((what, ok))
        self.say(f"  [{'ok' if ok else 'FAILED'}] {what}")

    # plumbing ----------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.sb.argocd_url + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.sb.token}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def curl(self, host: str) -> tuple[int, str]:
        req = urllib.request.Request(self.sb.ingress_url + "/", headers={"Host": host})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, text = resp.status, resp.read().decode().strip()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read().decode().strip()
        self.say(f"$ curl -H 'Host: {host}' $SANDBOX_INGRESS\n  {status} {text}")
        return status, text

    def tool(
        self, *args: str, show: str | None = None, extra_env: dict[str, str] | None = None
    ) -> tuple[int, str]:
        """Run ``gitops-release ARGS`` as its own process, like a user; print what it says."""
        env = {
            **self.env,
            **{k: v for k, v in self.sb.env().items() if k.startswith(("ARGOCD_", "ROLLOUTS_"))},
            "GITOPS_RELEASE_GIT_TOKEN": self.sb.git_token,
            # the sandbox serves no registry: ikubernetes/myapp is not asked for (Docker Hub is
            # not reachable from every laptop or runner)
            "GITOPS_RELEASE_VERIFY_IMAGE": "off",
            "NO_COLOR": "1",
            **(extra_env or {}),
        }
        self.say(f"$ gitops-release {show or ' '.join(args)}")
        proc = subprocess.run(
            [sys.executable, "-m", "gitops_release", *args],
            cwd=self.work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=max(60.0, self.wait_seconds * 4),
        )
        for line in (proc.stderr + proc.stdout).splitlines():
            self.say(f"  {line}".rstrip())
        return proc.returncode, proc.stdout

    def git_image(self) -> str:
        """The image the GitOps repository's tip holds for myapp (fetched afresh)."""
        self.git("fetch", "-q", self.repo_url, "main")
        text = self.git("show", f"FETCH_HEAD:{APP}/rollout.yaml")
        found = re.search(r"image:\s*(\S+)", text)
        return found[1] if found else ""

    def git(self, *args: str) -> str:
        proc = subprocess.run(
            ["git", *args], cwd=self.work, env=self.env, capture_output=True, text=True, check=False
        )
        if proc.returncode:
            raise DemoFailed(f"git {args[0]} failed: {proc.stderr.strip()}")
        return (proc.stdout + proc.stderr).strip()

    def wait(self, what: str, predicate: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + self.wait_seconds
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        self.check(f"{what} (timed out)", False)
        return False

    def app(self) -> dict[str, Any]:
        return self.api("GET", f"/api/v1/applications/{APP}")  # type: ignore[no-any-return]

    def info(self) -> dict[str, Any]:
        return self.api("GET", INFO)  # type: ignore[no-any-return]

    def show_status(self) -> None:
        """What a user looks at: ``gitops-release status myapp``, really run (the argocd and
        kubectl CLIs cannot talk to the sandbox, so the demo shows neither)."""
        if not self.status_explained:
            self.say(
                "(`gitops-release status` shows the app as `argocd app get` does, then the Rollout"
                f" tree: it draws what `kubectl argo rollouts get rollout {APP}` draws)"
            )
            self.status_explained = True
        self.tool("status", APP)

    def rollout_phase(self) -> tuple[str, str]:
        try:
            info = self.info()
        except urllib.error.HTTPError:  # the dashboard answers 500 until the Rollout exists
            return "Missing", ""
        return str(info.get("status")), str(info.get("message", ""))

    # the story ---------------------------------------------------------------------------
    def run(self) -> bool:
        self.scaffold_and_push()
        self.create_app()
        self.release_v2()
        self.promote_v2()
        self.rollback_v1()
        self.abort_v3()
        self.failing_v4()
        if self.sb.registry is not None:
            self.typo_refused_before_git(self.sb.registry)
        passed = sum(ok for _, ok in self.checks)
        self.say(f"\n{passed}/{len(self.checks)} checks passed")
        return passed == len(self.checks)

    def scaffold_and_push(self) -> None:
        self.step("1. scaffold myapp and push it (SANDBOX_GIT)")
        self.git("init", "-q", "-b", "main")
        code, _ = self.tool(
            "scaffold", APP, "--image", "ikubernetes/myapp:v1", "--prod-host", PROD,
            "--preview-host", TEST, "--repo-url", self.repo_url, "--target-revision", "main",
        )  # fmt: skip
        self.git("add", ".")
        self.git("commit", "-q", "-m", f"add {APP}")
        setup = self.sb.git_setup_line()
        self.say(f"$ {setup}   # once: what `sandbox up` prints for plain git push")
        self.git(*shlex.split(setup)[1:])
        self.git("remote", "add", "origin", self.repo_url)
        self.say(
            "$ git add . && git commit -m 'add myapp' && git remote add origin $SANDBOX_GIT/gitops.git && git push origin main"
        )
        pushed = self.git("push", "origin", "HEAD:main")
        self.say("  " + "\n  ".join(line.strip() for line in pushed.splitlines()[-2:]))
        self.check(
            "scaffolded files pushed",
            code == 0 and (self.work / APP / "rollout.yaml").is_file(),
        )

    def create_app(self) -> None:
        self.step("2. create the Argo CD Application: v1 goes live on both hosts")
        code, _ = self.tool("app", "create", "--file", f"argocd/{APP}.yaml")
        code2, _ = self.tool("wait", APP, "--for", "released", "--timeout", "60s")
        ok = code == code2 == 0 and self.wait(
            "v1 released",
            lambda: self.rollout_phase()[0] == "Healthy" and self._app_is("Synced", "Healthy"),
        )
        self.show_status()
        prod, test = self.curl(PROD), self.curl(TEST)
        self.check(
            "v1 live: Synced, Healthy, prod and test say v1",
            ok and "Version: v1" in prod[1] and "Version: v1" in test[1],
        )

    def _app_is(self, sync: str, health: str) -> bool:
        app = self.app()
        st = app["status"]
        return "operation" not in app and (st["sync"]["status"], st["health"]["status"]) == (
            sync,
            health,
        )

    def deploy(self, tag: str, *extra: str) -> tuple[int, str]:
        args = ("deploy", tag, "--app", APP, "--check", "preview", "--expect", f"Version: {tag}")
        ingress = ("--ingress-url", self.sb.ingress_url, "--timeout", "60s", *extra)
        show = f"deploy {tag} --app {APP} --check preview --expect 'Version: {tag}' --ingress-url $SANDBOX_INGRESS"
        return self.tool(*args, *ingress, show=" ".join([show, *extra]))

    def release_v2(self) -> None:
        self.step("3. deploy v2: Git bump, the preview comes up and pauses (BlueGreenPause)")
        code, _ = self.deploy("v2")
        ok = code == 0 and self.wait(
            "preview paused", lambda: self.rollout_phase() == ("Paused", "BlueGreenPause")
        )
        self.show_status()
        app, info = self.app(), self.info()
        prod, test = self.curl(PROD), self.curl(TEST)
        self.check(
            "app Suspended, rollout Paused/BlueGreenPause",
            ok and app["status"]["health"]["status"] == "Suspended",
        )
        self.check(
            "revision 2 preview with 1 pod, revision 1 stable+active with 2",
            [
                (
                    r["revision"],
                    len(r.get("pods", [])),
                    bool(r.get("preview")),
                    bool(r.get("active")),
                )
                for r in info["replicaSets"]
            ]
            == [(2, 1, True, False), (1, 2, False, True)],
        )
        self.check(
            "prod says v1, test says v2", "Version: v1" in prod[1] and "Version: v2" in test[1]
        )

    def promote_v2(self) -> None:
        self.step("4. promote: v2 becomes active, v1 scales down after scaleDownDelaySeconds")
        code, _ = self.tool("promote", APP, "--wait", "--timeout", "60s")
        ok = code == 0 and self.wait("v2 promoted", lambda: self.rollout_phase()[0] == "Healthy")
        self.show_status()
        prod, test = self.curl(PROD), self.curl(TEST)
        self.check(
            "both hosts say v2", ok and "Version: v2" in prod[1] and "Version: v2" in test[1]
        )
        ok = self.wait(
            "v1 scaled down", lambda: self.info()["replicaSets"][-1]["status"] == "ScaledDown"
        )
        self.show_status()
        self.check("revision 1 ScaledDown after the delay", ok)

    def rollback_v1(self) -> None:
        self.step("5. roll back to v1 through Git, then promote")
        code, _ = self.tool("rollback", APP, "--to", "v1", "--timeout", "60s")
        ok = code == 0 and self.wait(
            "rollback preview paused", lambda: self.rollout_phase() == ("Paused", "BlueGreenPause")
        )
        self.show_status()
        info = self.info()
        prod, test = self.curl(PROD), self.curl(TEST)
        self.check(
            "v1 is back as revision 3 in preview; prod v2, test v1",
            ok
            and info["replicaSets"][0]["revision"] == 3
            and "Version: v2" in prod[1]
            and "Version: v1" in test[1],
        )
        code, _ = self.tool("promote", APP, "--wait", "--timeout", "60s")
        ok = code == 0 and self.wait("v1 promoted", lambda: self.rollout_phase()[0] == "Healthy")
        self.show_status()
        prod, test = self.curl(PROD), self.curl(TEST)
        self.check(
            "both hosts say v1 again, Git holds v1",
            ok
            and "Version: v1" in prod[1]
            and "Version: v1" in test[1]
            and self.git_image() == "ikubernetes/myapp:v1",
        )

    def abort_v3(self) -> None:
        self.step("6. deploy v3, then abort: prod keeps v1, Git is written back to v1")
        code, _ = self.deploy("v3")
        ok = code == 0 and self.wait(
            "v3 preview paused", lambda: self.rollout_phase() == ("Paused", "BlueGreenPause")
        )
        prod, test = self.curl(PROD), self.curl(TEST)
        ok = ok and "Version: v1" in prod[1] and "Version: v3" in test[1]
        code, _ = self.tool("abort", APP, "--timeout", "60s")
        self.show_status()
        app = self.app()
        prod = self.curl(PROD)
        self.check(
            "abort: prod still says v1; Git back on v1; app Synced and Healthy",
            ok
            and code == 0
            and "Version: v1" in prod[1]
            and self.git_image() == "ikubernetes/myapp:v1"
            and app["status"]["health"]["status"] == "Healthy"
            and app["status"]["sync"]["status"] == "Synced",
        )
        self.check(
            "Argo CD runs the Git tip",
            app["status"]["sync"].get("revision") == self.git("rev-parse", "FETCH_HEAD"),
        )

    def failing_v4(self) -> None:
        self.step(
            "7. deploy v4, which answers 500: the smoke check fails, deploy aborts and reverts"
        )
        self.sb.fail_image("ikubernetes/myapp:v4", "http-500")
        self.say("(sandbox: ikubernetes/myapp:v4 answers HTTP 500)")
        code, _ = self.deploy("v4", "--check-timeout", "2s")
        self.show_status()
        app = self.app()
        prod = self.curl(PROD)
        self.check(
            "deploy exits 1; Git back on v1; app Healthy; prod says v1",
            code == 1
            and self.git_image() == "ikubernetes/myapp:v1"
            and app["status"]["health"]["status"] == "Healthy"
            and "Version: v1" in prod[1],
        )

    def typo_refused_before_git(self, registry: LocalRegistry) -> None:
        self.step("8. a typo'd tag: the registry is asked before Git (SANDBOX_REGISTRY)")
        image = f"{registry.host}/team/myapp"
        registry.push("team/myapp", "v5")
        self.say(f"(sandbox registry: pushed {image}:v5)")
        tip = self.git("ls-remote", self.repo_url, "main")
        start = time.monotonic()
        code, _ = self.tool(
            "deploy", f"{image}:v5-rc", "--app", APP, "--timeout", "60s",
            show=f"deploy $SANDBOX_REGISTRY/team/myapp:v5-rc --app {APP}",
            extra_env={"GITOPS_RELEASE_VERIFY_IMAGE": "on"},
        )  # fmt: skip
        elapsed = time.monotonic() - start
        self.say(f"  (refused in {elapsed:.2f} s, the process's start included)")
        self.check(
            "deploy of a tag the registry lacks exits 2 before Git; the tip did not move",
            code == 2 and self.git("ls-remote", self.repo_url, "main") == tip,
        )


def run_demo(out: TextIO, *, time_scale: float = 0.01) -> bool:
    """Play the guide on a fresh sandbox; True when every check passed."""
    with tempfile.TemporaryDirectory(prefix="gitops-demo-") as tmp:
        registry = shutil.which(BINARY) is not None  # the registry step when it can run
        config = SandboxConfig(
            time_scale=time_scale, state_dir=Path(tmp) / "state", registry=registry
        )
        sb = Sandbox(config)
        sb.start()
        try:
            print(
                f"sandbox: Argo CD {sb.argocd_url}, ingress {sb.ingress_url}, git {sb.git_url} "
                f"(time scale {time_scale}: 30 s of controller time = {30 * time_scale:g} s)",
                file=out,
                flush=True,
            )
            work = Path(tmp) / "argo-demo"
            work.mkdir()
            demo = Demo(sb, work, out)
            try:
                return demo.run()
            except (DemoFailed, urllib.error.URLError, OSError, KeyError, IndexError) as err:
                demo.say(f"\ndemo stopped: {type(err).__name__}: {err}")
                return False
        finally:
            sb.stop()
