"""Bad input (issue 7, part 3): a table of cases across commands. Each must exit with the code
DESIGN.md gives (2 input, 4 remote), print exactly one line naming the problem, and write
nothing: the remote's refs, the checkout's status and every byte of it, and the cluster
(the sandbox app's revision, images, sync and health) compare equal before and after.
"""

from __future__ import annotations

import hashlib
import http.server
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rel_common import (
    ARGO_CANARY,
    GIT_CANARY,
    ROLLOUT,
    SERVICE,
    Check,
    git,
    one_error_line,
    refs,
    run_main,
)
from rel_sandbox import SandboxApp

BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
)
NO_BLUEGREEN = ROLLOUT.format(name="canary").replace(
    "blueGreen: {activeService: canary, previewService: canary-preview}", "canary: {steps: []}"
)
APPS: dict[str, dict[str, str | bytes]] = {
    "web": {"rollout.yaml": ROLLOUT.format(name="web"), "service.yaml": SERVICE.format(name="web")},
    "broken": {"rollout.yaml": "kind: Rollout\nspec:\n  template: [\n    image: x:v1\n"},
    "bomb": {
        "rollout.yaml": BOMB
        + "\nkind: Rollout\nspec:\n  template:\n    spec:\n      containers: *a9\n"
    },
    "latin1": {"rollout.yaml": ROLLOUT.format(name="latin1").encode() + b"# caf\xe9\n"},
    "dupkeys": {
        "rollout.yaml": ROLLOUT.format(name="dup").replace(
            "          ports:", "          image: team/dup:v0\n          ports:"
        )
    },
    "nocontainers": {
        "rollout.yaml": "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      containers: []\n"
    },
    "noimage": {"service.yaml": SERVICE.format(name="noimage")},
    "twoimages": {
        "rollout.yaml": ROLLOUT.format(name="two").replace(
            "ports:", "ports: []\n        - name: side\n          image: team/side:v1\n          x:"
        )
    },
    "control": {"rollout.yaml": ROLLOUT.format(name="ctl").replace("# the tag", "\x07# the tag")},
    "tabs": {"rollout.yaml": ROLLOUT.format(name="tabs").replace("  template:", "\ttemplate:")},
    "canary": {"rollout.yaml": NO_BLUEGREEN},
}


@dataclass
class Case:
    name: str
    args: list[str]
    code: int
    setup: Callable[[Path], None] | None = None
    argo: bool = False
    env: dict[str, str | None] = field(default_factory=dict)
    stdin: str = ""
    says: str = ""


def _dirty(c: Path) -> None:
    (c / "apps/web/rollout.yaml").write_text(ROLLOUT.format(name="web") + "# local edit\n")


def _detached(c: Path) -> None:
    git(c, "checkout", "-q", "--detach")


def _ahead(c: Path) -> None:
    (c / "notes.txt").write_text("local\n")
    git(c, "add", "notes.txt")
    git(c, "commit", "-qm", "local only")


def _symlink(c: Path) -> None:
    outside = c.parent / "outside-app"
    outside.mkdir(exist_ok=True)
    (outside / "rollout.yaml").write_text(ROLLOUT.format(name="out"))
    (c / "apps/escape").symlink_to(outside)


def _huge(c: Path) -> None:
    """40 MiB of comments after a Rollout, pushed (only the clones made after it carry it)."""
    (c / "apps/huge").mkdir()
    (c / "apps/huge/rollout.yaml").write_text(
        ROLLOUT.format(name="huge") + ("#" * 1023 + "\n") * 40 * 1024
    )
    git(c, "add", "apps/huge")
    git(c, "commit", "-qm", "huge")
    git(c, "push", "-q", "origin", "HEAD:main")


def _record_dir(c: Path) -> None:
    (c.parent / "record-is-a-file").write_text("x")


B = "bump-image"
TAGS = [
    ("tag with a space", "v 2"),
    ("tag ..", ".."),
    ("200-char tag", "v" * 200),
    ("tag ;rm", "v2;rm -rf /"),
    ("tag $()", "v2$(id)"),
    ("tag backticks", "v2`id`"),
    ("tag newline", "v2\nv3"),
    ("tag pipe", "v2|cat"),
    ("tag &&", "v2&&true"),
    ("tag >", "v2>x"),
    ("empty tag", ""),
    ("tag trailing space", "v2 "),
    ("tag non-ASCII", "v2é"),
    ("tag tab", "v2\t"),
    ("tag quote", "v2'"),
    ("uppercase repository", "registry.example.com/Team/web:v2"),
    ("short digest", "team/web:v2@sha256:abc"),
    ("double colon", "team/web::v2"),
    ("empty path component", "team//web:v2"),
    ("port without host", ":5000/team/web:v2"),
    ("tag starts with -", "--"),
    ("glob tag", "v*"),
    ("NUL-free control char", "v2\x1b[31m"),
]
CASES: list[Case] = [Case(f"bump-image: {n}", [B, t, "--app", "apps/web"], 2) for n, t in TAGS]
CASES += [
    Case(
        "--expect-current with a space",
        [B, "v2", "--app", "apps/web", "--expect-current", "v 1"],
        2,
    ),
    Case("--digest not a digest", [B, "v2", "--app", "apps/web", "--digest", "sha256:xyz"], 2),
    Case("--app ../ escapes the repo", [B, "v2", "--app", "../outside"], 2),
    Case("--app absolute outside", [B, "v2", "--app", "/etc"], 2),
    Case("--app a/../../.. escapes", [B, "v2", "--app", "apps/../../.."], 2),
    Case("--app symlink pointing outside", [B, "v2", "--app", "apps/escape"], 2, _symlink),
    Case("--app missing", [B, "v2", "--app", "apps/missing"], 2),
    Case("--app empty", [B, "v2", "--app", ""], 2),
    Case("broken YAML", [B, "v2", "--app", "apps/broken"], 2),
    Case("alias bomb (billion laughs)", [B, "v2", "--app", "apps/bomb"], 2),
    Case("non-UTF-8 file", [B, "v2", "--app", "apps/latin1"], 2),
    Case("duplicate keys", [B, "v2", "--app", "apps/dupkeys"], 2),
    Case("Rollout without containers", [B, "v2", "--app", "apps/nocontainers"], 2),
    Case("app dir with no image", [B, "v2", "--app", "apps/noimage"], 2),
    Case("two images, no --container", [B, "v2", "--app", "apps/twoimages"], 2),
    Case("--container names none", [B, "v2", "--app", "apps/web", "--container", "nope"], 2),
    Case("--image-name names none", [B, "v2", "--app", "apps/web", "--image-name", "x/y"], 2),
    Case("control character in YAML", [B, "v2", "--app", "apps/control"], 2),
    Case("tab indentation", [B, "v2", "--app", "apps/tabs"], 2),
    Case("dirty tree", [B, "v2", "--app", "apps/web"], 2, _dirty),
    Case("detached HEAD", [B, "v2", "--app", "apps/web"], 2, _detached),
    Case("local branch ahead", [B, "v2", "--app", "apps/web"], 2, _ahead),
    Case("wrong branch", [B, "v2", "--app", "apps/web", "--branch", "nope"], 2),
    Case(
        "--no-push with --merge-request",
        [B, "v2", "--app", "apps/web", "--no-push", "--merge-request"],
        2,
    ),
    Case("--repo missing dir", [B, "v2", "--app", "apps/web", "--repo", "/nonexistent/x"], 2),
    Case("--repo not a git checkout", [B, "v2", "--app", "apps/web", "--repo", "/tmp"], 2),
    Case(
        "--repo URL unreachable",
        [B, "v2", "--app", "apps/web", "--repo", "http://127.0.0.1:9/x.git"],
        4,
    ),
    Case(
        "--record into a missing dir",
        [B, "v2", "--app", "apps/web", "--record", "/nonexistent/r.json"],
        2,
    ),
    Case(
        "--record is a directory's file",
        [B, "v2", "--app", "apps/web", "--record", "../record-is-a-file/r.json"],
        2,
        _record_dir,
    ),
    Case("token as a flag", [B, "v2", "--app", "apps/web", "--token", GIT_CANARY], 2),
    Case("unknown option", [B, "v2", "--app", "apps/web", "--force"], 2),
    Case(
        "scaffold: name with /",
        [
            "scaffold",
            "team/web",
            "--image",
            "a/b:v1",
            "--prod-host",
            "p.x",
            "--preview-host",
            "t.x",
        ],
        2,
    ),
    Case(
        "scaffold: uppercase name",
        ["scaffold", "Web", "--image", "a/b:v1", "--prod-host", "p.x", "--preview-host", "t.x"],
        2,
    ),
    Case(
        "scaffold: bad image",
        ["scaffold", "web2", "--image", "A B", "--prod-host", "p.x", "--preview-host", "t.x"],
        2,
    ),
    Case(
        "scaffold: same hosts",
        ["scaffold", "web2", "--image", "a/b:v1", "--prod-host", "p.x", "--preview-host", "p.x"],
        2,
    ),
    Case(
        "scaffold: path escapes",
        [
            "scaffold",
            "web2",
            "--image",
            "a/b:v1",
            "--prod-host",
            "p.x",
            "--preview-host",
            "t.x",
            "--path",
            "../web2",
        ],
        2,
    ),
    Case("huge file (40 MiB)", [B, "v2", "--app", "apps/huge"], 2, _huge),
    Case("lint: missing dir", ["lint", "apps/missing"], 2),
    Case("lint: broken YAML (a finding)", ["lint", "apps/broken"], 1),
]
A = dict(argo=True)
CASES += [
    Case("status: name with /", ["status", "team/myapp"], 2, **A),
    Case("deploy: name with /", ["deploy", "v2", "--app", "team/myapp"], 2, **A),
    Case("deploy: bad tag", ["deploy", "v 2", "--app", "myapp"], 2, **A),
    Case("deploy: shell tag", ["deploy", "v2;id", "--app", "myapp"], 2, **A),
    Case("deploy: bad --expect regex", ["deploy", "v2", "--app", "myapp", "--expect", "("], 2, **A),
    Case(
        "deploy: bad --check-timeout",
        ["deploy", "v2", "--app", "myapp", "--check-timeout", "soon"],
        2,
        **A,
    ),
    Case(
        "deploy: bad --on-failure",
        ["deploy", "v2", "--app", "myapp", "--on-failure", "pray"],
        2,
        **A,
    ),
    Case("deploy: app not found", ["deploy", "v2", "--app", "nope"], 4, **A),
    Case("wait: unknown target", ["wait", "myapp", "--for", "done"], 2, **A),
    Case(
        "wait: negative timeout", ["wait", "myapp", "--for", "released", "--timeout", "-5s"], 2, **A
    ),
    Case("rollback: bad --to", ["rollback", "myapp", "--to", "v 1"], 2, **A),
    Case("promote: app not found", ["promote", "nope"], 4, **A),
    Case("app create: missing file", ["app", "create", "--file", "missing.yaml"], 2, **A),
    Case(
        "app create: broken YAML", ["app", "create", "--file", "apps/broken/rollout.yaml"], 2, **A
    ),
    Case(
        "invalid Argo CD token", ["status", "myapp"], 4, env={"ARGOCD_AUTH_TOKEN": ARGO_CANARY}, **A
    ),
    Case(
        "expired-looking token",
        ["deploy", "v2", "--app", "myapp"],
        4,
        env={"ARGOCD_AUTH_TOKEN": "a.b.c"},
        **A,
    ),
    Case(
        "wrong server URL", ["status", "myapp"], 4, env={"ARGOCD_SERVER": "http://127.0.0.1:9"}, **A
    ),
    Case(
        "TLS failure",
        ["deploy", "v2", "--app", "myapp"],
        4,
        env={"ARGOCD_SERVER": "https://{plain}"},
        **A,
    ),
    Case(
        "non-JSON answer from a proxy",
        ["deploy", "v2", "--app", "myapp"],
        4,
        env={"ARGOCD_SERVER": "{proxy}"},
        **A,
    ),
    Case("no Argo CD server", ["status", "myapp"], 2, env={"ARGOCD_SERVER": None}, **A),
    Case("no credentials", ["status", "myapp"], 2, env={"ARGOCD_AUTH_TOKEN": None}, **A),
    Case("--auth-token-file missing", ["status", "myapp", "--auth-token-file", "nope.txt"], 2, **A),
    Case(
        "--password-stdin empty",
        ["status", "myapp", "--username", "admin", "--password-stdin"],
        2,
        **A,
    ),
    Case("--ca-bundle missing", ["status", "myapp", "--ca-bundle", "nope.pem"], 2, **A),
    Case("--output yaml", ["status", "myapp", "--output", "yaml"], 2, **A),
]


class _HtmlProxy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Sign in to continue</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        return


@contextmanager
def html_proxy() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlProxy)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _snapshot(checkout: Path, bare: Path) -> str:
    """Refs of the remote; HEAD, status and every file's size and mtime in the checkout (git
    status compares tracked contents; the stat list catches any other write)."""
    files = sorted(
        (str(p.relative_to(checkout)), p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in checkout.rglob("*")
        if (p.is_file() or p.is_symlink()) and p.relative_to(checkout).parts[0] != ".git"
    )
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"], cwd=checkout, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True).stdout
    digest = hashlib.sha256(repr(files).encode()).hexdigest()
    return f"{digest}|{status}|{head!r}|{refs(bare)}"


def _seed(work: Path) -> tuple[Path, Path]:
    bare = work / "remote.git"
    seed = work / "seed"
    git(work, "init", "-q", "--bare", "-b", "main", str(bare))
    git(work, "init", "-q", "-b", "main", str(seed))
    for app, files in APPS.items():
        (seed / "apps" / app).mkdir(parents=True)
        for name, text in files.items():
            data = text if isinstance(text, bytes) else text.encode()
            (seed / "apps" / app / name).write_bytes(data)
    git(seed, "add", ".")
    git(seed, "commit", "-qm", "apps")
    git(seed, "push", "-q", str(bare), "main")
    return bare, seed


def run_cases(work: Path, cases: list[Case] | None = None) -> list[Check]:
    cases = CASES if cases is None else cases
    bare, _ = _seed(work)
    checks: list[Check] = []
    git_cases = [c for c in cases if not c.argo]
    for i, case in enumerate(git_cases):
        checkout = work / f"c{i}"
        git(work, "clone", "-q", str(bare), str(checkout))
        if case.setup:
            case.setup(checkout)
        tokens: dict[str, str | None] = {
            "GITOPS_RELEASE_GIT_TOKEN": GIT_CANARY,  # the canaries ride along every failure
            "ARGOCD_AUTH_TOKEN": ARGO_CANARY,
        }
        checks.append(_run(case, checkout, bare, lambda: "", tokens))
    argo_cases = [c for c in cases if c.argo]
    if argo_cases:
        with SandboxApp(work / "argo") as sa, html_proxy() as proxy:
            checkout = work / "argo-checkout"
            git(work, "clone", "-q", str(bare), str(checkout))
            plain = sa.sb.argocd_url.removeprefix("http://")
            for case in argo_cases:
                env = {
                    k: (v.format(plain=plain, proxy=proxy) if v else v) for k, v in case.env.items()
                }
                checks.append(_run(case, checkout, sa.bare, sa.state, {**sa.env, **env}))
    return checks


def _run(
    case: Case, checkout: Path, bare: Path, cluster: Callable[[], str], env: dict[str, str | None]
) -> Check:
    before = _snapshot(checkout, bare), cluster()
    start = time.monotonic()
    res = run_main(case.args, f"bad-input/{case.name}", env=env, cwd=checkout, stdin=case.stdin)
    took = time.monotonic() - start
    after = _snapshot(checkout, bare), cluster()
    unchanged = before == after
    clear = one_error_line(res.err)
    held = res.code == case.code and clear and unchanged
    detail = (
        f"exit {res.code} (want {case.code}) in {took:.1f}s; unchanged={unchanged}; "
        + (res.err.strip().replace("\n", " | ")[-300:])
    )
    return Check("bad-input", case.name, held, int(not unchanged), detail)


__all__ = ["CASES", "Case", "run_cases"]
