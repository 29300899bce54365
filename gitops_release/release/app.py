"""The Argo CD Application being released, and the steps every release flow shares.

``deploy``, ``abort`` (with the revert) and ``rollback`` all do the same few things: read the
app's source and its Rollout, write an image to Git (through :func:`release.bump_image`, so the
push loop and the commit trailers are the same as ``bump-image``'s), make Argo CD take the
commit at once (refresh; sync unless auto-sync will), and wait for a target state pinned to that
commit and image. They live here once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gitops_release import journal
from gitops_release.argo import http
from gitops_release.argo.apierrors import NoLiveObject
from gitops_release.argo.connection import Connection
from gitops_release.argo.model import (
    AnalysisRun,
    Application,
    ResourceRef,
    Rollout,
    find_rollout,
    values_source,
)
from gitops_release.argo.rollouts import ActionResult, ArgoCDControl, run
from gitops_release.argo.types import Action, Target
from gitops_release.argo.wait import Expect, Outcome, Waiter, wait_operation
from gitops_release.config import Settings
from gitops_release.errors import AppPathMissing, ReleaseError, RemoteError, UsageError
from gitops_release.images import ImageRef, is_reference, parse_image, pick_image, resolve_target
from gitops_release.output import Output, short_sha
from gitops_release.registry.check import ImageCheck
from gitops_release.release.bump import BumpResult, bump_image
from gitops_release.release.edit import BumpRequest


@dataclass(frozen=True)
class Selection:
    """Which image in the app's files (the ``bump-image`` options)."""

    container: str | None = None
    image_name: str | None = None


@dataclass
class ReleaseApp:
    conn: Connection
    name: str
    out: Output
    repo: str | None = None
    path: str | None = None
    rollout_name: str | None = None
    selection: Selection = field(default_factory=Selection)
    app: Application = field(default_factory=lambda: Application(name=""))
    raw: dict[str, Any] = field(default_factory=dict)
    _ref: ResourceRef | None = None
    _images: ImageCheck | None = None

    @property
    def images(self) -> ImageCheck:
        """The registry check of this run (``--verify-image``), shared with the Git write."""
        if self._images is None:
            self._images = ImageCheck.from_settings(self.conn.settings, self.out)
        return self._images

    def check_image(self, tag_or_ref: str, like: str | None, digest: str | None = None) -> None:
        """Ask the registry before cloning: a full reference as is, a bare tag on the repository
        of ``like`` (the image running now). Without either, the Git write checks it after
        reading the files and before writing them."""
        if is_reference(tag_or_ref):
            self.images.verify(resolve_target(ImageRef(""), tag_or_ref, digest))
        elif like:
            self.images.verify(resolve_target(parse_image(like), tag_or_ref, digest))

    def load(self) -> ReleaseApp:
        self.raw = self.conn.argocd().get_app_json(self.name)
        self.app = Application.from_json(self.raw)
        return self

    # -- source and Rollout ------------------------------------------------------------------
    @property
    def source(self) -> tuple[str, str, str | None]:
        """(repository, app path, branch) for the Git write: the Application's, or overrides.
        A multi-source Application whose chart reads ``$ref/...`` values files is released in
        the ``ref`` source that holds them (its repository root, those files)."""
        values = self.values_source()
        if values is not None and not self.path:
            ref, _ = values
            revision = str(ref.get("targetRevision") or "")
            return (
                self.repo or str(ref.get("repoURL") or ""),
                ".",
                None if revision in ("", "HEAD") else revision,
            )
        repo = self.repo or self.app.repo_url
        path = self.path or self.app.path or "."
        if not repo:
            raise UsageError(
                f"application {self.name} has no Git source (a Helm chart repository?)",
                hint="pass --repo and --path to say where its image is written",
            )
        return repo, path, self.app.branch

    def app_overrides(self) -> str | None:
        """Where the Application itself sets the image (kustomize ``images`` or a Helm image
        parameter), which beats any Git edit; None when it does not."""
        spec = self.raw.get("spec") or {}
        sources = [spec.get("source")] if spec.get("source") else list(spec.get("sources") or [])
        for source in sources:
            if not isinstance(source, dict):
                continue
            images = (source.get("kustomize") or {}).get("images") or []
            helm = source.get("helm") or {}
            params = [
                str(p.get("name"))
                for p in helm.get("parameters") or []
                if isinstance(p, dict) and _names_image(str(p.get("name", "")))
            ]
            if images:
                return f"spec.source.kustomize.images ({', '.join(map(str, images))})"
            if params:
                return f"spec.source.helm.parameters ({', '.join(params)})"
            for key in ("valuesObject", "values"):
                paths = _image_paths(_helm_values(helm.get(key)))
                if paths:
                    return f"spec.source.helm.{key} ({', '.join(paths)})"
        return None

    @property
    def value_files(self) -> tuple[str, ...]:
        """The values files Argo CD renders the chart with: ``spec.source.helm.valueFiles``
        (relative to the chart), or a multi-source ``ref`` source's (relative to its root)."""
        values = self.values_source()
        if values is not None and not self.path:
            return values[1]
        spec = self.raw.get("spec") or {}
        helm = (spec.get("source") or {}).get("helm") or {}
        return tuple(str(f) for f in helm.get("valueFiles") or ())

    def values_source(self) -> tuple[dict[str, Any], tuple[str, ...]] | None:
        """Multi-source: the ``ref`` source whose files the chart reads as ``$ref/...``
        values files, and those files' paths in it (:func:`argo.model.values_source`)."""
        found = values_source(self.raw.get("spec") or {})
        return None if found is None else (found[1], found[2])

    def values_position(self) -> int | None:
        """Multi-source, released in the values source: its 1-based position in
        ``spec.sources`` (what a sync's ``sourcePositions`` names); None otherwise."""
        found = None if self.path else values_source(self.raw.get("spec") or {})
        return None if found is None else found[0] + 1

    def refuse_app_overrides(self) -> None:
        """A kustomize ``images`` or Helm image parameter in the Application beats any Git edit."""
        where = self.app_overrides()
        if where:
            raise UsageError(
                f"application {self.name} overrides the image in Argo CD itself: {where}; "
                "a Git change would not take effect",
                hint="remove the override from the Application (keep the image in Git)",
            )

    @property
    def ref(self) -> ResourceRef:
        if self._ref is None:
            self._ref = find_rollout(self.app, name=self.rollout_name)
        return self._ref

    def has_rollout(self) -> bool:
        return self.rollout_name is not None or any(r.kind == "Rollout" for r in self.app.resources)

    def rollout(self) -> Rollout | None:
        """The live Rollout, or None before it exists."""
        if not self.has_rollout():
            return None
        try:
            return self.conn.argocd().rollout(self.name, self.ref)
        except (http.BadRequest, http.NotFound, NoLiveObject):
            return None

    def stable_image(self, ro: Rollout | None, like: str | None = None) -> str | None:
        """The image the stable ReplicaSet runs (the one like ``like`` when it has several)."""
        if ro is None or not ro.stable_rs:
            return None
        try:
            rs = self.conn.argocd().replica_set(
                self.name, f"{ro.name}-{ro.stable_rs}", ro.namespace
            )
        except RemoteError:
            return None
        return pick_image(rs.images, like)

    def rollout_revision(self, ro: Rollout | None) -> int | None:
        if ro is None or not ro.current_pod_hash:
            return None
        try:
            rs = self.conn.argocd().replica_set(
                self.name, f"{ro.name}-{ro.current_pod_hash}", ro.namespace
            )
        except RemoteError:
            return None
        return rs.revision or None

    def analysis_runs(self, ro: Rollout | None) -> list[tuple[str, AnalysisRun]]:
        """The pre- and post-promotion AnalysisRuns the Rollout's status names, by role (a run
        not readable yet is left out: the Rollout's own phase still tells)."""
        from gitops_release.argo import analysis

        if ro is None:
            return []
        found = []
        for which, named in ((analysis.PRE, ro.pre_analysis), (analysis.POST, ro.post_analysis)):
            if named is None or not named.name:
                continue
            try:
                run = self.conn.argocd().analysis_run(self.name, named.name, ro.namespace)
            except RemoteError:
                continue
            found.append((which, run))
        return found

    def urls(self, ro: Rollout | None) -> tuple[str, str]:
        from gitops_release.argo.routes import urls

        return urls(self.conn.argocd(), self.app, ro)

    # -- Git ---------------------------------------------------------------------------------
    def write_image(
        self,
        tag_or_ref: str,
        *,
        message: str | None = None,
        skip_ci: bool = False,
        expect_current: str | None = None,
        merge_request: bool = False,
        digest: str | None = None,
        dry_run: bool = False,
        pin_digest: bool = False,
        trailers: tuple[tuple[str, str], ...] = (),
        pin_where_read: bool = False,
    ) -> BumpResult:
        repo, path, branch = self.source
        return bump_image(
            BumpRequest(
                tag_or_ref=tag_or_ref,
                app=path,
                repo=repo,
                branch=branch,
                container=self.selection.container,
                image_name=self.selection.image_name,
                digest=digest,
                value_files=self.value_files,
                pin_digest=pin_digest,
                expect_current=expect_current,
                message=message,
                skip_ci=skip_ci,
                merge_request=merge_request,
                dry_run=dry_run,
                trailers=trailers,
                pin_where_read=pin_where_read,
            ),
            settings=self.conn.settings,
            out=self.out,
            image_check=self.images,
        )

    # -- Argo CD -----------------------------------------------------------------------------
    def take(self, commit: str | None, deadline: float) -> None:
        """Make Argo CD take ``commit`` now: refresh, and sync unless auto-sync will."""
        api = self.conn.argocd()
        app = api.refresh(self.name)
        if app.auto_sync:
            journal.note("argocd", "Argo CD was refreshed; auto-sync deploys it", changed=False)
            self.out.progress(f"{self.name}: refreshed; auto-sync is on, Argo CD syncs it")
            return
        journal.note("argocd", "Argo CD was refreshed, not synced yet", changed=False)
        for attempt in range(20):
            wait_operation(api, self.name, deadline, self.out)
            try:
                api.sync(self.name, revision=commit, source_position=self.values_position())
            except http.BadRequest as err:
                if isinstance(err, http.OperationInProgress) and time.monotonic() < deadline:
                    self.conn.sleep(min(2.0, 0.2 * 2**attempt))
                    continue
                raise RemoteError(
                    f"Argo CD refused to sync {self.name}: {err.server_message}",
                    hint="check the app's sync policy and sync windows",
                ) from None
            journal.note("argocd", f"Argo CD sync of {self.name} started")
            self.out.progress(
                f"{self.name}: refreshed and sync started{' at ' + short_sha(commit) if commit else ''}"
            )
            return

    def reach(
        self,
        target: Target,
        *,
        commit: str | None,
        image: str | None,
        deadline: float,
        watch_analysis: bool = False,
    ) -> Outcome:
        expect = Expect(revision=commit, images=(image,) if image else ())
        if commit:
            expect.contains = self._contains()
        self.out.progress(
            f"{self.name}: waiting for {target.value}"
            + (f" on {image}" if image else "")
            + (f" at {short_sha(commit)}" if commit else "")
        )
        waiter = Waiter(
            self.conn.argocd(),
            self.name,
            target,
            expect,
            rollout_name=self.ref.name if self.has_rollout() else None,
            out=self.out,
            watch_analysis=watch_analysis,
        )
        return waiter.run(max(1.0, deadline - time.monotonic()))

    def _contains(self) -> Callable[[str, str], bool]:
        """Is our commit in the synced revision? In the values source's, for a multi-source
        app whose image is written there (Argo CD reports one revision per source)."""
        from gitops_release.release.revisions import git_contains

        values = None if self.path else self.values_source()
        if values is None:
            return git_contains(self.app, self.conn.settings)
        repo, path, branch = self.source
        app = replace(self.app, repo_url=repo, path=path, target_revision=branch or "HEAD")
        position = self.values_position()
        assert position is not None
        return git_contains(app, self.conn.settings, position=position - 1)

    def restore(self, stable: str, *, message: str, deadline: float) -> tuple[str, Outcome]:
        """Write ``stable`` back to Git (``[skip ci]``) and wait until the app is released on it.

        After an abort that is immediate (the stable ReplicaSet is still active); after a
        promoted release it is a new update, which pauses in preview and is promoted here."""
        landed = self.write_image(stable, skip_ci=True, message=message)
        self.out.progress(
            f"wrote {stable} back to Git; waiting for {self.name} to be Healthy on it"
        )
        self.take(landed.commit, deadline)
        outcome = self.reach(
            Target.preview_ready, commit=landed.commit, image=stable, deadline=deadline
        )
        if outcome.rollout is not None and not outcome.rollout.fully_promoted:
            self.out.progress(
                f"{stable} is back in preview (the other version had been promoted); promoting it"
            )
            self.act(Action.promote)
        outcome = self.reach(Target.released, commit=landed.commit, image=stable, deadline=deadline)
        self.out.progress(f"{self.name} is Healthy on {stable} again; Git and Argo CD agree")
        return landed.commit or "", outcome

    def act(self, action: Action) -> ActionResult:
        control = ArgoCDControl(self.conn.argocd(), self.name, self.ref)
        result = run(control, action, app=self.name, sleep=self.conn.sleep)
        self.out.progress(result.message)
        return result


def _names_image(key: str) -> bool:
    """A values key (or parameter path) that sets an image, not its pull policy or secrets."""
    low = key.lower()
    return "image" in low and not low.endswith(("pullpolicy", "pullsecrets"))


def _helm_values(values: Any) -> Any:
    """``helm.valuesObject`` as is; ``helm.values`` (a YAML string) read."""
    if not isinstance(values, str):
        return values
    from gitops_release.yaml.read import YamlError, load_all

    try:
        docs = load_all(values, source="spec.source.helm.values")
    except YamlError:
        return None  # Argo CD cannot render it either; its own error says so
    return docs[0] if docs else None


def _image_paths(values: Any, prefix: str = "") -> list[str]:
    """Value paths under ``values`` that name an image (a key containing ``image``)."""
    found: list[str] = []
    if isinstance(values, dict):
        for key, value in values.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if _names_image(str(key)) and not (
                isinstance(value, dict) and all(not _names_image(f"image.{k}") for k in value)
            ):
                found.append(path)
            else:
                found += _image_paths(value, path)
    elif isinstance(values, list):
        for index, item in enumerate(values):
            found += _image_paths(item, f"{prefix}[{index}]")
    return found


def bump_from_application(
    conn: Connection, name: str, req: BumpRequest, *, out: Output
) -> BumpResult:
    """``bump-image --argocd-app NAME``: the repository, path and branch come from the
    Application's source (``--repo``/``--app``/``--branch`` given as well override them). Warns
    when the Application overrides the image itself, since the Git bump would then not show."""
    rel = ReleaseApp(conn, name, out, repo=req.repo or None, path=req.app or None).load()
    repo, path, branch = rel.source
    where = rel.app_overrides()
    if where:
        out.warn(
            f"application {name} overrides the image in Argo CD itself: {where}; "
            "this Git change will not take effect until that override is removed"
        )
    out.progress(f"{name}: {repo} path {path}" + (f" on {branch}" if branch else ""))
    resolved = replace(
        req,
        repo=repo,
        app=path,
        branch=req.branch or branch,
        value_files=req.value_files or rel.value_files,
    )
    return bump_image(resolved, settings=conn.settings, out=out)


LOOKUP_TIMEOUT = 3.0
"""How long ``bump-image --app`` may spend asking Argo CD whether the path is an app's name."""


def bump_path(req: BumpRequest, *, settings: Settings, conn: Connection, out: Output) -> BumpResult:
    """``bump-image --app PATH``: :func:`bump_image`; when PATH does not exist but Argo CD (if
    configured) has an Application of that name, the error asks "did you mean --argocd-app?"."""
    try:
        return bump_image(req, settings=settings, out=out)
    except AppPathMissing as err:
        name = req.app.strip("/")
        if not _is_argocd_app(conn, name):
            raise
        raise UsageError(
            f"{err.message}; did you mean --argocd-app {name}?",
            hint="--app is a path inside --repo; --argocd-app NAME takes the repository and path "
            "from the Argo CD Application",
        ) from None


def _is_argocd_app(conn: Connection, name: str) -> bool:
    """Does the configured Argo CD have this app? False when none is configured, the name
    cannot be one, or the server does not answer within :data:`LOOKUP_TIMEOUT`."""
    if not name or "/" in name or not conn.settings.get("argocd_server"):
        return False
    try:
        argocd = conn.argocd()
        argocd.client.retries = 0
        argocd.client.deadline = argocd.client.clock() + LOOKUP_TIMEOUT
        argocd.get_app(name)
    except ReleaseError:
        return False
    return True
