"""Secrets (issue 7, part 4): canary tokens go through the failure paths of the other scenarios
(and a few more, with ``--debug`` tracebacks, records and dotenv files); afterwards no output,
record, dotenv, ``.git/config``, reflog, commit or process argument list holds them, in clear
or base64 (the form an ``Authorization: Basic`` header carries)."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rel_common import (
    ARGO_CANARY,
    EVIDENCE,
    GIT_CANARY,
    Check,
    run_main,
    seed_repo,
)
from rel_sandbox import SandboxApp

from gitops_release.sandbox.gitserver import GitServer

REGISTRY_CANARY = "RELCANARY-registry-pass-8b3f1d"
REGISTRY_TOKEN_CANARY = "RELCANARY-registry-bearer-2c7e5a9d"
EVIDENCE.secret(REGISTRY_CANARY, REGISTRY_TOKEN_CANARY)


class _TalkativeRegistry(BaseHTTPRequestHandler):
    """A registry whose token service hands out the token canary and whose refusal quotes the
    token it was shown (some proxies do): the check must print neither."""

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        host = self.headers.get("Host", "")
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/token"):
            self._reply(200, json.dumps({"token": REGISTRY_TOKEN_CANARY}).encode())
        elif auth.startswith("Bearer "):
            message = json.dumps({"errors": [{"code": "DENIED", "message": f"{auth} denied"}]})
            self._reply(403, message.encode(), {"Content-Type": "application/json"})
        else:
            challenge = (
                f'Bearer realm="http://{host}/token",service="reg",scope="repository:team/web:pull"'
            )
            self._reply(401, b"", {"WWW-Authenticate": challenge})

    do_HEAD = do_GET


def registry_paths(work: Path) -> None:
    """The registry check with a password and a token that a refusal would echo."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _TalkativeRegistry)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{httpd.server_address[1]}"
    env = {
        "GITOPS_RELEASE_VERIFY_IMAGE": "on",
        "GITOPS_RELEASE_REGISTRY_USER": "bot",
        "GITOPS_RELEASE_REGISTRY_PASSWORD": REGISTRY_CANARY,
    }
    try:
        for mode in ("on", "warn"):
            result = run_main(
                ["bump-image", f"{host}/team/web:v2", "--app", "apps/web", "--repo", str(work),
                 "--verify-image", mode, "--debug", "-o", "json"],
                f"secrets/registry check ({mode})", env=env,
            )  # fmt: skip
            assert f"registry {host} refused" in result.err, result.err  # the path ran
    finally:
        httpd.shutdown()
        httpd.server_close()


PROMETHEUS_CANARY = "RELCANARY-prometheus-pass-5d1e9a"
WEB_CANARY = "RELCANARY-web-bearer-7a2f4c81"
ARG_CANARY = "RELCANARY-analysis-arg-3b8e6d"
EVIDENCE.secret(PROMETHEUS_CANARY, WEB_CANARY, ARG_CANARY)


class _TalkativeMetrics(BaseHTTPRequestHandler):
    """A Prometheus that quotes the Authorization header it was shown in its error, and a web
    metric endpoint that echoes it back as the measured value."""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/api/v1/query"):
            body = {"status": "error", "errorType": "bad_data", "error": f"refused {auth}"}
        else:
            body = {"ok": False, "echo": auth, "path": self.path}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ANALYSIS_TEMPLATE = """apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: canary
spec:
  args:
  - name: api-token
    valueFrom:
      secretKeyRef: {{name: metrics, key: token}}
  metrics:
  - name: prom
    successCondition: result[0] < 1
    provider:
      prometheus:
        address: http://bot:{prom}@{host}
        query: up
  - name: web
    count: 2
    interval: 10ms
    successCondition: result.ok == true
    provider:
      web:
        url: http://{host}/check?token={{{{args.api-token}}}}
        headers:
        - key: Authorization
          value: Bearer {web}
        - key: X-Api-Key
          value: "{{{{args.api-token}}}}"
"""


def analysis_paths(work: Path) -> None:
    """verify --analysis: a Prometheus address with credentials, a web metric with a token
    header and a secret arg (from the environment), against servers that echo them back; the
    run fails (Error) and a traceback is asked for."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _TalkativeMetrics)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{httpd.server_address[1]}"
    work.mkdir(parents=True, exist_ok=True)
    template = work / "analysis.yaml"
    template.write_text(ANALYSIS_TEMPLATE.format(prom=PROMETHEUS_CANARY, web=WEB_CANARY, host=host))
    env = {"GITOPS_RELEASE_ARG_API_TOKEN": ARG_CANARY}
    try:
        for fmt in ("text", "json"):
            result = run_main(
                ["verify", "web", "--analysis", str(template), "--debug", "-o", fmt],
                f"secrets/verify --analysis ({fmt})", env=env,
            )  # fmt: skip
            assert result.code == 1 and "refused" in result.err + result.out, result.err
        for metric in ("prom", "web"):  # each metric alone: the web one measures and echoes
            alone = work / f"{metric}.yaml"
            text = template.read_text()
            other = "web" if metric == "prom" else "prom"
            start = text.index(f"  - name: {other}")
            end = text.find("  - name: ", start + 1)
            alone.write_text(text[:start] + (text[end:] if end > 0 else ""))
            run_main(
                ["verify", "web", "--analysis", str(alone), "-o", "json"],
                f"secrets/verify --analysis {metric}", env=env,
            )  # fmt: skip
    finally:
        httpd.shutdown()
        httpd.server_close()


def _forms(secret: str) -> set[str]:
    forms = {secret, base64.b64encode(secret.encode()).decode()}
    for user in ("oauth2", "sandbox", "bot", "git"):
        forms.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
    return forms


def more_paths(work: Path) -> None:
    """Failure paths with tracebacks (``--debug``), credentials inside URLs, a failing deploy
    writing its record and dotenv file."""
    registry_paths(work / "registry")
    analysis_paths(work / "analysis")
    srv = GitServer(work / "srv", GIT_CANARY, lifetime=120)
    srv.start()
    try:
        url = srv.url("team/gitops.git")
        seed_repo(url, work / "seed", ["web"], GIT_CANARY)
        host = url.removeprefix("http://")
        wrong = GIT_CANARY + "-wrong"
        EVIDENCE.secret(wrong)
        record = work / "bump.json"
        runs = [
            (["bump-image", "v2", "--repo", f"http://oauth2:{GIT_CANARY}@{host}", "--app", "apps/web",
              "--record", str(record), "-o", "json"], {}),
            (["bump-image", "v3", "--repo", f"http://bot:{GIT_CANARY}@{host}", "--app", "apps/nope", "--debug"], {}),
            (["bump-image", "v3", "--repo", url, "--app", "apps/web", "--debug"], {"GITOPS_RELEASE_GIT_TOKEN": wrong}),
            (["bump-image", "v3", "--repo", url + "-missing", "--app", "apps/web", "--debug"], {"GITOPS_RELEASE_GIT_TOKEN": GIT_CANARY}),
            (["bump-image", "v3", "--repo", f"http://{GIT_CANARY}@{host}", "--app", "apps/web",
              "--expect-current", "v1", "--record", str(record), "--debug"], {}),
            (["status", "web", "--server", "http://127.0.0.1:9", "--debug"], {"ARGOCD_AUTH_TOKEN": ARGO_CANARY}),
        ]  # fmt: skip
        for args, env in runs:
            run_main(args, f"secrets/{args[0]} {' '.join(args[1:3])}", env=env)
            EVIDENCE.files(f"secrets/record after {args[1]}", record)
        srv.drop_next_pushes(1)
        run_main(["bump-image", "v4", "--repo", url, "--app", "apps/web", "--debug"],
                 "secrets/dropped push", env={"GITOPS_RELEASE_GIT_TOKEN": GIT_CANARY})  # fmt: skip
        EVIDENCE.git("secrets remote", srv.root / "team/gitops.git")
    finally:
        srv.stop()
    with SandboxApp(work / "deploy") as sa:
        sa.sb.fail_image("ikubernetes/myapp:v2", "http-500")
        files = work / "deploy.json", work / "deploy.env"
        sa.cli(
            "deploy", "v2", "--app", "myapp", "--check", "preview", "--ingress-url",
            sa.sb.ingress_url, "--check-timeout", "1s", "--timeout", "60s", "--record",
            str(files[0]), "--dotenv", str(files[1]), "--debug", label="secrets/failing deploy",
        )  # fmt: skip
        EVIDENCE.files("secrets/deploy record and dotenv", *files)


def _git_texts(path: Path) -> list[tuple[str, str]]:
    def run(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=path, capture_output=True, text=True, errors="replace"
        ).stdout

    config = path / "config" if (path / "config").is_file() else path / ".git" / "config"
    return [
        (".git/config", config.read_text(errors="replace") if config.is_file() else ""),
        ("reflog", run("log", "-g", "--all", "--format=%H %gs %B")),
        ("commits", run("log", "--all", "-p", "--format=%H %an %B")),
        ("refs", run("for-each-ref")),
    ]


def scan() -> list[Check]:
    """One check per path (a scenario's command or git directory), plus the process table."""
    forms = set().union(*(_forms(s) for s in EVIDENCE.secrets))
    by_label: dict[str, list[str]] = {}
    for label, text in EVIDENCE.texts:
        by_label.setdefault(label, []).append(text)
    for label, path in EVIDENCE.git_dirs:
        if path.exists():
            for what, text in _git_texts(path):
                by_label.setdefault(f"{label}: {what}", []).append(text)
    checks = []
    for label, texts in sorted(by_label.items()):
        leaks = [f for f in forms for t in texts if f in t]
        checks.append(Check("secrets", label, not leaks, len(leaks), f"{len(leaks)} leak(s)"))
    checks.append(
        Check(
            "secrets",
            "/proc/*/cmdline during pushes",
            not EVIDENCE.cmdline_leaks and EVIDENCE.cmdline_samples > 0,
            len(EVIDENCE.cmdline_leaks),
            f"{EVIDENCE.cmdline_samples} argument lists read; leaks: {EVIDENCE.cmdline_leaks[:2]}",
        )
    )
    return checks
