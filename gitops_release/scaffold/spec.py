"""What ``scaffold`` is asked to write, validated field by field before anything is rendered.

Every check raises :class:`UsageError` naming the command-line field (``--prod-host``) and what
a valid value looks like; nothing is written before all of them pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import PurePosixPath

from gitops_release.errors import UsageError
from gitops_release.images import parse_image

DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENTRYPOINT = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?$")
_PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_REVISION = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$")
_SCHEME_URL = re.compile(r"^(?P<scheme>https?|ssh|git|file)://(?P<rest>[^\s]+)$")
_SCP_URL = re.compile(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:[^\s]+$")
# Longest suffix scaffold appends to APP (the preview Service, APP-preview): a Service name is a
# DNS-1035 label of at most 63 characters, so APP has 63 - len("-preview") = 55.
_LONGEST_SUFFIX = "-preview"
MAX_APP = 63 - len(_LONGEST_SUFFIX)


@dataclass(frozen=True)
class AppSpec:
    """The values the templates use. ``repo_url``/``target_revision`` None: read from the checkout."""

    app: str
    image: str
    prod_host: str
    preview_host: str
    replicas: int = 2
    revision_history_limit: int = 2
    container_port: int = 80
    port: int = 80
    auto_promote: bool = False
    preview_replica_count: int = 1
    scale_down_delay_seconds: int | None = None
    auto_promotion_seconds: int | None = None
    entrypoint: str = "web"
    project: str = "default"
    repo_url: str | None = None
    target_revision: str | None = None
    namespace: str = "default"
    auto_sync: bool = True
    prune: bool = False
    self_heal: bool = False
    path: str | None = None
    analysis: str | None = None
    """``prometheus`` or ``web``: write an AnalysisTemplate and the pre-promotion gate."""
    analysis_query: str | None = None
    prometheus_address: str = "http://prometheus.monitoring:9090"
    analysis_url: str | None = None
    analysis_json_path: str | None = None
    success_condition: str | None = None
    failure_condition: str | None = None
    analysis_count: int = 3
    analysis_interval: str = "30s"
    repo_prefix: str = ""
    """Where ``--repo-dir`` is inside the repository ("" at its top): Argo CD paths start there."""

    @property
    def app_path(self) -> str:
        """The app directory below ``--repo-dir`` (``--path``, default APP)."""
        return self.path or self.app

    @property
    def source_path(self) -> str:
        """The app directory from the top of the repository: the Application's source.path."""
        return str(PurePosixPath(self.repo_prefix or ".", self.app_path))

    def values(self) -> dict[str, str | int | bool | None]:
        """The template placeholders."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "repo_prefix"}
        data["path"] = self.source_path
        data["analysis_enabled"] = self.analysis is not None
        data["analysis_prometheus"] = self.analysis == "prometheus"
        data["analysis_web"] = self.analysis == "web"
        return data


def _fail(field: str, message: str, hint: str | None = None) -> UsageError:
    return UsageError(f"{field}: {message}", hint=hint)


def _check_dns_label(
    field: str, value: str, *, max_len: int = 63, first_letter: bool, why: str | None = None
) -> None:
    pattern = DNS1035_LABEL if first_letter else DNS1123_LABEL
    kind = "DNS-1035 label" if first_letter else "DNS-1123 label"
    if "/" in value or ".." in value:
        raise _fail(field, f"{value!r} must not contain '/' or '..'", hint=f"use a {kind}")
    if not pattern.match(value):
        start = "a letter" if first_letter else "a letter or digit"
        raise _fail(
            field,
            f"{value!r} is not a {kind}",
            hint=f"lower-case letters, digits and '-', starting with {start}, not ending with '-'",
        )
    if len(value) > max_len:
        raise _fail(field, f"{value!r} is longer than {max_len} characters", hint=why)


def check_host(field: str, value: str) -> str:
    """A DNS name as Traefik's ``Host()`` matches it (lower-case, no wildcard, no port)."""
    if not value or len(value) > 253:
        raise _fail(field, f"{value!r} is not a host name (1 to 253 characters)")
    labels = value.split(".")
    if not all(DNS1123_LABEL.match(label) and len(label) <= 63 for label in labels):
        raise _fail(
            field,
            f"{value!r} is not a DNS name",
            hint="lower-case letters, digits, '-' and '.', e.g. prod.myapp.com (no scheme, port or path)",
        )
    if labels[-1].isdigit():
        raise _fail(field, f"{value!r} is an IP address or ends in a number, not a DNS name")
    return value


def _check_int(field: str, value: int | None, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(
            field, f"{value!r} is out of range", hint=f"a whole number from {low} to {high}"
        )


def check_path(field: str, value: str) -> str:
    """A relative directory inside the repository: no leading '/', no '..' or '.' parts."""
    if not value or value.startswith("/") or "\\" in value:
        raise _fail(field, f"{value!r} must be a relative path inside the repository")
    parts = value.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise _fail(field, f"{value!r} must not contain '..', '.' or empty parts")
        if not _PATH_PART.match(part):
            raise _fail(
                field,
                f"{value!r}: {part!r} is not a safe directory name",
                hint="letters, digits, '_', '.' and '-'",
            )
    if parts[0] == "argocd":
        raise _fail(
            field,
            f"{value!r} is inside argocd/, where the Application files go",
            hint="Argo CD would deploy the Application into the workload namespace",
        )
    return str(PurePosixPath(value))


def check_repo_url(field: str, value: str) -> str:
    """A Git URL Argo CD can clone (https, ssh, git, file, scp-like or an absolute path)."""
    if not value or any(c.isspace() or ord(c) < 32 for c in value):
        raise _fail(field, f"{value!r} is not a repository URL (empty or contains white space)")
    match = _SCHEME_URL.match(value)
    if match:
        authority = match.group("rest").split("/", 1)[0]
        userinfo = authority.rpartition("@")[0] if "@" in authority else None
        # https://TOKEN@host is a secret too; ssh://git@host is only a user name
        http = match.group("scheme").startswith("http")
        if userinfo is not None and (http or ":" in userinfo):
            raise _fail(
                field,
                "the URL carries credentials, which would be written into Git",
                hint="give the URL without user:token@ (Argo CD has its own repository credentials)",
            )
        return value
    if _SCP_URL.match(value) or value.startswith("/"):
        return value
    raise _fail(
        field,
        f"{value!r} is not a repository URL",
        hint="https://host/group/repo.git, ssh://..., git@host:group/repo.git or an absolute path",
    )


def check_revision(field: str, value: str) -> str:
    """A branch, tag or commit Argo CD can follow."""
    bad = (
        not _REVISION.match(value)
        or ".." in value
        or "//" in value
        or value.endswith(("/", ".", ".lock"))
        or len(value) > 255
    )
    if bad:
        raise _fail(field, f"{value!r} is not a valid branch, tag or commit name")
    return value


def validate(spec: AppSpec) -> AppSpec:
    """Check every field of ``spec`` (raises :class:`UsageError` naming the field)."""
    _check_dns_label(
        "APP", spec.app, max_len=MAX_APP, first_letter=True,
        why=f"the preview Service is named {spec.app}{_LONGEST_SUFFIX}, and a Service name is at"
        " most 63 characters (a DNS-1035 label)",
    )  # fmt: skip
    image = parse_image(spec.image, what="--image")
    if image.tag is None and image.digest is None:
        raise _fail(
            "--image",
            f"{spec.image!r} has no tag",
            hint="give the version, e.g. ikubernetes/myapp:v1: releases change the tag",
        )
    check_host("--prod-host", spec.prod_host)
    check_host("--preview-host", spec.preview_host)
    if spec.prod_host.lower() == spec.preview_host.lower():
        raise _fail(
            "--preview-host",
            f"{spec.preview_host!r} is also the production host",
            hint="the preview needs its own host, e.g. test.myapp.com",
        )
    _check_int("--replicas", spec.replicas, 1, 1000)
    _check_int("--revision-history-limit", spec.revision_history_limit, 1, 100)
    _check_int("--container-port", spec.container_port, 1, 65535)
    _check_int("--port", spec.port, 1, 65535)
    _check_int("--preview-replica-count", spec.preview_replica_count, 1, 1000)
    if spec.preview_replica_count > spec.replicas:
        raise _fail(
            "--preview-replica-count",
            f"{spec.preview_replica_count} is more than --replicas {spec.replicas}",
        )
    _check_int("--scale-down-delay-seconds", spec.scale_down_delay_seconds, 0, 86400)
    _check_int("--auto-promotion-seconds", spec.auto_promotion_seconds, 1, 86400)
    if spec.auto_promotion_seconds is not None and not spec.auto_promote:
        raise _fail(
            "--auto-promotion-seconds",
            "needs --auto-promote (Argo Rollouts ignores it while auto-promotion is off)",
        )
    if not _ENTRYPOINT.match(spec.entrypoint):
        raise _fail(
            "--entrypoint",
            f"{spec.entrypoint!r} is not a Traefik entry point name",
            hint="letters, digits, '-' and '_', e.g. web or websecure",
        )
    _check_dns_label("--project", spec.project, first_letter=False)
    _check_dns_label("--namespace", spec.namespace, first_letter=False)
    if not spec.auto_sync and (spec.prune or spec.self_heal):
        flag = "--prune" if spec.prune else "--self-heal"
        raise _fail(flag, "is part of automated sync and cannot go with --no-auto-sync")
    if spec.repo_url is not None:
        check_repo_url("--repo-url", spec.repo_url)
    if spec.target_revision is not None:
        check_revision("--target-revision", spec.target_revision)
    if spec.path is not None:
        check_path("--path", spec.path)
    check_analysis(spec)
    return spec


_ANALYSIS_FIELDS = {
    "--query": ("analysis_query", "prometheus"),
    "--url": ("analysis_url", "web"),
    "--json-path": ("analysis_json_path", "web"),
}


def check_analysis(spec: AppSpec) -> None:
    """``--analysis prometheus|web`` and the options each needs (and only those)."""
    if spec.analysis is None:
        extra = [flag for flag, (name, _) in _ANALYSIS_FIELDS.items() if getattr(spec, name)]
        extra += [
            flag
            for flag, value in (
                ("--success-condition", spec.success_condition),
                ("--failure-condition", spec.failure_condition),
            )
            if value
        ]
        if extra:
            raise _fail(extra[0], "needs --analysis prometheus or --analysis web")
        return
    if spec.analysis not in ("prometheus", "web"):
        raise _fail(
            "--analysis",
            f"{spec.analysis!r} is not a provider scaffold writes",
            hint="prometheus or web",
        )
    for flag, (name, kind) in _ANALYSIS_FIELDS.items():
        if getattr(spec, name) and kind != spec.analysis:
            raise _fail(flag, f"belongs to --analysis {kind}, not {spec.analysis}")
    needed = "--query" if spec.analysis == "prometheus" else "--url"
    if not getattr(spec, _ANALYSIS_FIELDS[needed][0]):
        raise _fail(needed, f"--analysis {spec.analysis} needs {needed}")
    if spec.analysis == "web" and not spec.analysis_url.startswith(("http://", "https://")):  # type: ignore[union-attr]
        raise _fail("--url", f"{spec.analysis_url!r} is not an http(s) URL")
    if spec.analysis == "prometheus" and not spec.prometheus_address.startswith(
        ("http://", "https://")
    ):
        raise _fail("--prometheus-address", f"{spec.prometheus_address!r} is not an http(s) URL")
    if not spec.success_condition:
        raise _fail(
            "--success-condition",
            f"--analysis {spec.analysis} needs one",
            hint="e.g. 'result[0] < 0.01' (prometheus) or 'result == true' (web)",
        )
    # the client's own evaluator (imported here: the sandbox's demo imports this module)
    from gitops_release.analysis.condition import ConditionSyntax, compile_condition
    from gitops_release.analysis.template import parse_duration

    for flag, text in (
        ("--success-condition", spec.success_condition),
        ("--failure-condition", spec.failure_condition),
    ):
        if text:
            try:
                compile_condition(text)
            except ConditionSyntax as err:
                raise _fail(
                    flag, str(err), hint="the Argo Rollouts (expr) condition syntax"
                ) from None
    _check_int("--analysis-count", spec.analysis_count, 1, 1000)
    if parse_duration(spec.analysis_interval, "--analysis-interval") <= 0:
        raise _fail("--analysis-interval", "must be longer than 0s")
