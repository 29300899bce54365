"""Smoke checks: GET a URL until it answers as expected, or the check's deadline passes.

A check names a URL, or ``preview`` / ``prod`` for the hosts the app's IngressRoutes route to the
preview and active Services. From a CI runner those hosts rarely resolve, so ``--ingress-url``
sends the request to the ingress address instead, with the host in the ``Host`` header (what
Traefik routes on). The expected status is any 2xx unless ``--status`` names one; ``--expect``
is a regular expression the body must contain. HTTP goes through :mod:`gitops_release.argo.http`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gitops_release.argo import http
from gitops_release.errors import Failed, RemoteError, TimedOut, UsageError
from gitops_release.output import Output, redact

INTERVAL = 1.0
NAMED = ("preview", "prod")


@dataclass(frozen=True)
class Check:
    name: str
    """``preview``, ``prod`` or the URL itself."""
    url: str
    expect: str | None = None
    status: int | None = None
    ingress_url: str | None = None

    def target(self) -> tuple[str, dict[str, str]]:
        """The URL actually requested and its headers (``Host`` when through the ingress)."""
        if not self.ingress_url:
            return self.url, {}
        parts, ingress = urlsplit(self.url), urlsplit(self.ingress_url)
        path = parts.path or "/"
        url = urlunsplit((ingress.scheme, ingress.netloc, path, parts.query, ""))
        return url, {"Host": parts.netloc}

    def judge(self, answer: http.Probe) -> str | None:
        """None when the answer passes, else what is wrong with it."""
        if self.status is not None and answer.status != self.status:
            return f"HTTP {answer.status}, expected {self.status}"
        if self.status is None and not 200 <= answer.status < 300:
            return f"HTTP {answer.status}, expected 2xx"
        if self.expect and not re.search(self.expect, answer.body):
            first = answer.body.strip().splitlines()[0][:80] if answer.body.strip() else ""
            return f"body does not match {self.expect!r} (got {first!r})"
        return None


@dataclass
class CheckResult:
    check: str
    url: str
    ok: bool
    status: int | None = None
    attempts: int = 0
    detail: str = ""
    seconds: float = 0.0
    cut: bool = field(default=False, repr=False)
    """Stopped by the command's ``--timeout`` before the check's own: a time-out, not a no."""

    def payload(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "cut"}


def compile_expect(expect: str | None) -> str | None:
    if expect is None:
        return None
    try:
        re.compile(expect)
    except re.error as err:
        raise UsageError(f"--expect {expect!r}: not a regular expression: {err}") from None
    return expect


def plan(
    specs: Sequence[str],
    *,
    prod_url: str,
    preview_url: str,
    expect: str | None = None,
    status: int | None = None,
    ingress_url: str | None = None,
) -> list[Check]:
    """Turn ``--check`` values into checks (``preview``/``prod`` resolved to the app's hosts)."""
    compile_expect(expect)
    if ingress_url and not ingress_url.startswith(("http://", "https://")):
        raise UsageError(f"--ingress-url {ingress_url}: use an http:// or https:// URL")
    checks = []
    for spec in specs:
        if spec in NAMED:
            url = preview_url if spec == "preview" else prod_url
            if not url:
                raise UsageError(
                    f"--check {spec}: the app has no IngressRoute routing a host to its {spec} Service",
                    hint="pass the URL itself: --check https://HOST/path",
                )
        elif spec.startswith(("http://", "https://")):
            url = spec
        else:
            raise UsageError(
                f"--check {spec}: expected a URL (http://...), preview or prod",
            )
        checks.append(Check(spec, url, expect, status, ingress_url))
    return checks


def run_check(
    check: Check,
    *,
    timeout: float,
    out: Output,
    verify: bool | str = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    until: float | None = None,
    report_pass: bool = True,
) -> CheckResult:
    """Ask until the answer passes or ``timeout`` runs out (each attempt bounded too), and never
    past ``until`` (the command's deadline, on the same clock). ``report_pass``: say on stderr
    that it passed (not when the pass is the command's result)."""
    url, headers = check.target()
    shown = check.url if not headers else f"{check.url} via {check.ingress_url}"
    start = clock()
    deadline = start + timeout
    cut = until is not None and until < deadline
    if until is not None:
        deadline = min(deadline, until)
    result = CheckResult(check.name, redact(check.url), ok=False)
    last = ""
    while True:
        result.attempts += 1
        try:
            answer = http.probe(
                url, headers=headers, timeout=max(0.1, min(10.0, deadline - clock())), verify=verify
            )
            result.status = answer.status
            problem = check.judge(answer)
        except http.NameNotResolved as err:
            raise _unresolved(check, err) from None
        except RemoteError as err:
            result.status, problem = None, err.message
        if problem is None:
            result.ok, result.detail = True, f"HTTP {result.status}"
            break
        if problem != last:
            out.progress(f"check {check.name}: {shown}: {problem}; retrying")
            last = problem
        result.detail = problem
        if clock() + INTERVAL > deadline:
            break
        sleep(INTERVAL)
    result.seconds = round(clock() - start, 2)
    result.cut = cut and not result.ok
    if result.ok and report_pass:
        out.progress(f"check {check.name}: {shown}: passed ({result.detail})")
    return result


def _unresolved(check: Check, err: http.NameNotResolved) -> RemoteError:
    """A name that does not resolve will not resolve in a second either: said at once (exit 4),
    with the way round it: the ingress address, or a typo in it."""
    if check.ingress_url:
        hint = "check --ingress-url (or GITOPS_RELEASE_INGRESS_URL / ingress_url in gitops-release.toml)"
    else:
        hint = (
            f"{err.host} does not resolve from here: pass --ingress-url URL, or set "
            "GITOPS_RELEASE_INGRESS_URL (or ingress_url in gitops-release.toml), to send the "
            "request to the ingress with the host in the Host header"
        )
    return RemoteError(f"smoke check {check.name}: {err.message}", hint=hint)


def run_all(
    checks: Sequence[Check],
    *,
    timeout: float,
    out: Output,
    verify: bool | str = True,
    into: list[CheckResult] | None = None,
    deadline: tuple[float | None, str] = (None, ""),
    report_pass: bool = True,
) -> list[CheckResult]:
    """Run each check; raise :class:`Failed` naming the first failing one (results kept in
    ``into``), or :class:`TimedOut` when the command's ``deadline`` stopped it first."""
    results = into if into is not None else []
    until, label = deadline
    for check in checks:
        result = run_check(
            check, timeout=timeout, out=out, verify=verify, until=until, report_pass=report_pass
        )
        results.append(result)
        if result.cut:
            raise TimedOut(
                f"timed out after {label}: smoke check {check.name} had not passed "
                f"({result.attempts} attempts): {result.url}: {result.detail}",
                hint="raise --timeout (the checks count against it too)",
            )
        if not result.ok:
            raise Failed(
                f"smoke check {check.name} failed after {result.attempts} attempts "
                f"({result.seconds:.0f}s): {result.url}: {result.detail}",
                hint="look at the app's logs; raise --check-timeout if it only needs longer",
            )
    return results
