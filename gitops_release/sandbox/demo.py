"""``gitops-release sandbox demo``: the guide's whole story on a fresh in-process sandbox.

It plays the user: scaffold ``myapp`` (image ``ikubernetes/myapp:v1``), push with plain git,
create the Application over the API, then v1 live on both hosts, bump to v2 (preview paused:
prod v1, test v2), promote (both v2), roll back to v1 through Git and promote, bump to v3 and
abort (prod keeps serving, test stops). Each step prints what a user would see, including the
``kubectl argo rollouts get rollout`` tree, and checks it; the exit code is 0 only when every
check passed. Everything it starts is stopped before it returns.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from gitops_release.sandbox.manifests import load_yaml_all
from gitops_release.sandbox.rolloutinfo import render_tree
from gitops_release.sandbox.server import Sandbox, SandboxConfig

APP = "myapp"
PROD, TEST = "prod.myapp.com", "test.myapp.com"
INFO = f"/rollouts/api/v1/rollouts/default/{APP}/info"
ACTIONS = (
    f"/api/v1/applications/{APP}/resource/actions?namespace=default&resourceName={APP}"
    "&group=argoproj.io&kind=Rollout&version=v1alpha1"
)


class DemoFailed(Exception):
    pass


class Demo:
    def __init__(self, sb: Sandbox, work: Path, out: TextIO, wait_seconds: float = 30.0) -> None:
        self.sb, self.work, self.out, self.wait_seconds = sb, work, out, wait_seconds
        self.checks: list[tuple[str, bool]] = []
        self.env = {**os.environ, **sb.git_env(), "GIT_TERMINAL_PROMPT": "0"}
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

    def show_tree(self) -> dict[str, Any]:
        info = self.info()
        self.say(f"$ kubectl argo rollouts get rollout {APP}")
        for line in render_tree(info, self.sb.clock.now()).splitlines():
            self.say(f"  {line}".rstrip())
        return info

    def show_app(self) -> dict[str, Any]:
        app = self.app()
        st = app["status"]
        self.say(f"$ argocd app get {APP}")
        self.say(
            f"  Sync: {st['sync']['status']} to {st['sync'].get('revision', '')[:7]}   "
            f"Health: {st['health']['status']}   Operation: "
            f"{(st.get('operationState') or {}).get('phase', '-')}"
        )
        return app

    def set_image(self, tag: str) -> None:
        rollout = self.work / APP / "rollout.yaml"
        text = rollout.read_text()
        rollout.write_text(re.sub(r"ikubernetes/myapp:[\w.-]+", f"ikubernetes/myapp:{tag}", text))
        self.say(
            f"$ sed -i 's/myapp:.*/myapp:{tag}/' {APP}/rollout.yaml && git commit -am 'update {tag}' && git push"
        )
        self.git("commit", "-q", "-am", f"update {tag}")
        pushed = self.git("push", self.repo_url, "HEAD:main")
        self.say("  " + "\n  ".join(line.strip() for line in pushed.splitlines()[-2:]))
        self.api("GET", f"/api/v1/applications/{APP}?refresh=normal")  # no 3-minute poll

    def rollout_phase(self) -> tuple[str, str]:
        try:
            info = self.info()
        except urllib.error.HTTPError:  # the dashboard answers 500 until the Rollout exists
            return "Missing", ""
        return str(info.get("status")), str(info.get("message", ""))

    def action(self, name: str) -> None:
        self.say(f"$ argocd app actions run {APP} {name} --kind Rollout")
        self.api("POST", ACTIONS, raw=json.dumps(name).encode())

    # the story ---------------------------------------------------------------------------
    def run(self) -> bool:
        self.scaffold_and_push()
        self.create_app()
        self.release_v2()
        self.promote_v2()
        self.rollback_v1()
        self.abort_v3()
        passed = sum(ok for _, ok in self.checks)
        self.say(f"\n{passed}/{len(self.checks)} checks passed")
        return passed == len(self.checks)

    def scaffold_and_push(self) -> None:
        from gitops_release.appspec import AppSpec  # the user's side: the tool's own scaffold
        from gitops_release.scaffold import render, write_files

        self.step("1. scaffold myapp and push it (SANDBOX_GIT)")
        spec = AppSpec(
            app=APP,
            image="ikubernetes/myapp:v1",
            prod_host=PROD,
            preview_host=TEST,
            repo_url=self.repo_url,
            target_revision="main",
        )
        files = render(spec)
        write_files(self.work, files)
        self.say(
            f"$ gitops-release scaffold {APP} --image ikubernetes/myapp:v1 --prod-host {PROD} --preview-host {TEST}"
        )
        for name in files:
            self.say(f"  wrote {name}")
        self.git("init", "-q", "-b", "main")
        self.git("add", ".")
        self.git("commit", "-q", "-m", f"add {APP}")
        self.say("$ git add . && git commit -m 'add myapp' && git push")
        pushed = self.git("push", self.repo_url, "HEAD:main")
        self.say("  " + "\n  ".join(line.strip() for line in pushed.splitlines()[-2:]))
        self.check("scaffolded files pushed", bool(files))

    def create_app(self) -> None:
        self.step("2. create the Argo CD Application: v1 goes live on both hosts")
        text = (self.work / "argocd" / f"{APP}.yaml").read_text()
        application = load_yaml_all(text, f"argocd/{APP}.yaml")[0]
        self.say(f"$ argocd app create -f argocd/{APP}.yaml")
        self.api("POST", "/api/v1/applications?upsert=true", application)
        ok = self.wait(
            "v1 released",
            lambda: self.rollout_phase()[0] == "Healthy" and self._app_is("Synced", "Healthy"),
        )
        self.show_app()
        self.show_tree()
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

    def release_v2(self) -> None:
        self.step("3. bump to v2: the preview comes up and pauses (BlueGreenPause)")
        self.set_image("v2")
        ok = self.wait(
            "preview paused", lambda: self.rollout_phase() == ("Paused", "BlueGreenPause")
        )
        app = self.show_app()
        info = self.show_tree()
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
        self.action("resume")
        ok = self.wait("v2 promoted", lambda: self.rollout_phase()[0] == "Healthy")
        self.show_tree()
        prod, test = self.curl(PROD), self.curl(TEST)
        self.check(
            "both hosts say v2", ok and "Version: v2" in prod[1] and "Version: v2" in test[1]
        )
        ok = self.wait(
            "v1 scaled down", lambda: self.info()["replicaSets"][-1]["status"] == "ScaledDown"
        )
        self.show_tree()
        self.check("revision 1 ScaledDown after the delay", ok)

    def rollback_v1(self) -> None:
        self.step("5. roll back to v1 through Git, then promote")
        self.set_image("v1")
        ok = self.wait(
            "rollback preview paused", lambda: self.rollout_phase() == ("Paused", "BlueGreenPause")
        )
        info = self.show_tree()
        prod, test = self.curl(PROD), self.curl(TEST)
        self.check(
            "v1 is back as revision 3 in preview; prod v2, test v1",
            ok
            and info["replicaSets"][0]["revision"] == 3
            and "Version: v2" in prod[1]
            and "Version: v1" in test[1],
        )
        self.action("resume")
        ok = self.wait("v1 promoted", lambda: self.rollout_phase()[0] == "Healthy")
        self.show_tree()
        prod, test = self.curl(PROD), self.curl(TEST)
        self.check(
            "both hosts say v1 again", ok and "Version: v1" in prod[1] and "Version: v1" in test[1]
        )

    def abort_v3(self) -> None:
        self.step("6. bump to v3 and abort: prod keeps serving v1, test stops")
        self.set_image("v3")
        ok = self.wait(
            "v3 preview paused", lambda: self.rollout_phase() == ("Paused", "BlueGreenPause")
        )
        self.curl(TEST)
        self.action("abort")
        degraded = ("Degraded", "RolloutAborted: Rollout aborted update to revision 4")
        ok = ok and self.wait("aborted", lambda: self.rollout_phase() == degraded)
        stopped = self.wait(
            "preview scaled down", lambda: self.info()["replicaSets"][0]["status"] == "ScaledDown"
        )
        app = self.show_app()
        self.show_tree()
        prod, test = self.curl(PROD), self.curl(TEST)
        self.check(
            "rollout Degraded: RolloutAborted: Rollout aborted update to revision 4",
            ok and app["status"]["health"]["status"] == "Degraded",
        )
        self.check(
            "prod still says v1, test answers 503",
            stopped and "Version: v1" in prod[1] and test[0] == 503,
        )


def run_demo(out: TextIO, *, time_scale: float = 0.01) -> bool:
    """Play the guide on a fresh sandbox; True when every check passed."""
    with tempfile.TemporaryDirectory(prefix="gitops-demo-") as tmp:
        sb = Sandbox(SandboxConfig(time_scale=time_scale, state_dir=Path(tmp) / "state"))
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
