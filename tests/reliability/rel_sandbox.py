"""One Argo CD app on a fresh in-process sandbox, released on v1, for fault and race scenarios."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rel_common import EVIDENCE, git, run_main

from gitops_release.sandbox.server import Sandbox, SandboxConfig
from tests.conftest import APP_YAML, AUTO, guide_manifests


class SandboxApp:
    """``with SandboxApp(work) as sa``: app ``myapp`` released on ``ikubernetes/myapp:v1``."""

    def __init__(self, work: Path, *, auto_sync: bool = True, time_scale: float = 0.01) -> None:
        self.work = work
        self.auto_sync = auto_sync
        self.sb = Sandbox(SandboxConfig(time_scale=time_scale, state_dir=work / "sandbox-state"))
        self.repo = work / "gitops"
        self.env: dict[str, str] = {}

    def __enter__(self) -> SandboxApp:
        sb = self.sb.start()
        try:
            EVIDENCE.secret(sb.token, sb.git_token, sb.admin_password)
            self.env = {
                "ARGOCD_SERVER": sb.argocd_url,
                "ARGOCD_AUTH_TOKEN": sb.token,
                "ROLLOUTS_SERVER": sb.rollouts_url,
                "GITOPS_RELEASE_GIT_TOKEN": sb.git_token,
                "GITOPS_RELEASE_HTTP_RETRIES": "2",
            }
            (self.repo / "myapp").mkdir(parents=True)
            for name, text in guide_manifests().items():
                (self.repo / "myapp" / name).write_text(text)
            self.git("init", "-q", "-b", "main")
            self.git("add", ".")
            self.git("commit", "-qm", "myapp v1")
            self.git("remote", "add", "origin", sb.repo_url("gitops"))
            self.git("push", "-q", "origin", "main")
            app_file = self.work / "myapp-app.yaml"
            app_file.write_text(
                APP_YAML.format(repo=sb.repo_url("gitops"), policy=AUTO if self.auto_sync else "")
            )
            self.ok("app", "create", "--file", str(app_file))
            if not self.auto_sync:
                self.ok("sync", "myapp")
            self.ok("wait", "myapp", "--for", "released", "--timeout", "60s")
        except BaseException:
            self.sb.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        EVIDENCE.git(f"sandbox remote {self.work.name}", self.bare)
        EVIDENCE.git(f"sandbox checkout {self.work.name}", self.repo)
        self.sb.stop()

    @property
    def bare(self) -> Path:
        return self.sb.git_server.root / "git" / "gitops.git"

    def git(self, *args: str) -> str:
        return git(self.repo, *args, env=self.sb.git_env())

    def ok(self, *args: str) -> str:
        res = run_main(list(args), f"sandbox setup {args[0]}", env=self.env)
        if res.code != 0:
            raise RuntimeError(f"{args}: exit {res.code}: {res.err}")
        return res.out

    def cli(self, *args: str, label: str = "sandbox") -> Any:
        return run_main(list(args), label, env=self.env)

    def remote_image(self) -> str:
        text = git(self.bare, "show", "main:myapp/rollout.yaml")
        found = re.search(r"image:\s*(\S+)", text)
        return found[1] if found else ""

    def remote_commits(self) -> int:
        return len(git(self.bare, "rev-list", "main").splitlines())

    def live_images(self) -> str:
        """The status JSON (images of the Rollout's ReplicaSets with their roles)."""
        return self.ok("status", "myapp", "-o", "json")

    def state(self) -> str:
        """The cluster side (app revision, live objects) to compare before/after."""
        data = json.loads(self.ok("status", "myapp", "-o", "json"))
        return json.dumps({k: data.get(k) for k in ("revision", "images", "sync", "health")})
