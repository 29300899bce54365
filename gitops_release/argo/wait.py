"""Named target states and the loop that waits for them (DESIGN.md section 3).

- ``synced``: Argo CD synced a revision containing the expected commit, and the live Rollout asks
  for the expected image. The sync operation finished, or still runs only because it waits on
  the paused Rollout.
- ``preview-ready``: ``synced``, the Rollout is Paused with ``BlueGreenPause`` and its preview
  ReplicaSet runs the expected image with ``previewReplicaCount`` (or ``replicas``) available.
  ``released`` satisfies it too (a Rollout that never pauses goes straight there).
- ``released``: ``synced``, app Healthy, Rollout Healthy and fully promoted on the expected image.
- Fail fast (exit 1) with the server's message: Rollout Degraded (aborted, deadline exceeded),
  operation Failed/Error, the expected image replaced by a different one.
- Analysis (:mod:`gitops_release.argo.analysis`): ``preview-ready`` needs the pre-promotion run
  Successful, ``released`` the post-promotion run; a Failed or Error run fails fast naming the
  metric, its condition and the last value; an Inconclusive one stops (exit 1): a person decides.

Each state is pinned to a commit and an image, so an old revision never satisfies it. Waiting
follows the watch stream (a change shows within a second); the stream is reopened when cut or
silent, and polling takes over if the server has no stream. Detailed reads (the live Rollout and
its preview ReplicaSet) happen only when the Application says the target may have been reached.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gitops_release.argo import analysis, http
from gitops_release.argo.client import ArgoCD
from gitops_release.argo.model import AnalysisRun, Application, ReplicaSet, ResourceRef, Rollout
from gitops_release.argo.types import Target
from gitops_release.errors import Failed, RemoteError, TimedOut, UsageError
from gitops_release.images import image_matches
from gitops_release.output import Output, short_sha

STREAM_IDLE = 15.0
"""Reopen a silent stream after this long (the newline stream has no keep-alives)."""
DETAIL_POLL = 1.0
"""While the app looks done but the details are not yet, re-read them this often."""
POLL = 2.0
"""Poll interval when the server has no watch stream."""
PROGRESS_EVERY = 30.0
ANALYSIS_TEMPLATES = ("AnalysisTemplate", "ClusterAnalysisTemplate")
"""Kinds whose presence among an app's resources says its Rollout may run analysis."""


def same_revision(have: str, want: str) -> bool:
    return bool(have and want) and (have.startswith(want) or want.startswith(have))


@dataclass
class Expect:
    revision: str | None = None
    images: tuple[str, ...] = ()
    contains: Callable[[str, str], bool] = same_revision
    """contains(app_revision, expected): true when the synced revision includes the expected commit."""


@dataclass
class Verdict:
    done: bool = False
    missing: str = ""
    failed: str | None = None
    needs_detail: bool = False


def operation_failed(app: Application, expect: Expect) -> str | None:
    op = app.operation
    if op is None or op.phase not in ("Failed", "Error"):
        return None
    if expect.revision and op.revision and not expect.contains(op.revision, expect.revision):
        return None  # an older operation: not ours
    return f"sync operation {op.phase}: {op.message or 'no message'}"


def judge_app(
    target: Target,
    app: Application,
    expect: Expect,
    rollout_name: str | None,
    watch_analysis: bool = False,
) -> Verdict:
    """What the Application alone says (no extra request). ``watch_analysis``: the Rollout runs
    analysis, whose progress the Application does not show: a Progressing Rollout is looked at."""
    failed = operation_failed(app, expect)
    if failed:
        return Verdict(failed=failed)
    if not (expect.revision and expect.contains(app.revision, expect.revision)):
        return Verdict(
            missing=f"Argo CD has not synced revision {short_sha(expect.revision or '?')} yet "
            f"(app at {short_sha(app.revision) or 'none'}, {app.sync_status})"
        )
    if app.sync_status != "Synced":
        manual = (
            ""
            if app.auto_sync or app.operation_running
            else f" (auto-sync is off: run `gitops-release sync {app.name}`)"
        )
        return Verdict(missing=f"app is {app.sync_status} at {short_sha(app.revision)}{manual}")
    res = app.resource("Rollout", rollout_name) if rollout_name else None
    op = app.operation
    if app.operation_running and (op is None or op.phase != "Running"):
        return Verdict(missing="sync operation starting")
    if op is not None and op.phase in ("Running", "Terminating"):
        waits_on_rollout = "argoproj.io/Rollout" in op.message or (
            res is not None and res.health == "Suspended"
        )
        if not waits_on_rollout:
            return Verdict(missing=f"sync operation {op.phase}: {op.message or 'in progress'}")
    if res is not None and res.health == "Degraded":
        return Verdict(needs_detail=True, missing=f"rollout Degraded: {res.health_message}")
    if target is Target.synced:
        return Verdict(needs_detail=True, missing="checking the live Rollout")
    health = res.health if res is not None else app.health
    if target is Target.preview_ready and health in ("Suspended", "Healthy"):
        return Verdict(needs_detail=True, missing="checking the preview ReplicaSet")
    if target is Target.released and health == "Healthy" and app.health == "Healthy":
        return Verdict(needs_detail=True, missing="checking the active ReplicaSet")
    what = f"rollout {res.health}" if res is not None else f"app {app.health}"
    message = res.health_message if res is not None else app.health_message
    looks = watch_analysis and res is not None and res.health == "Progressing"
    return Verdict(missing=f"{what}{': ' + message if message else ''}", needs_detail=looks)


def judge_rollout(
    target: Target,
    app: Application,
    ro: Rollout,
    preview: ReplicaSet | None,
    expect: Expect,
    analysis_runs: dict[str, AnalysisRun] | None = None,
) -> Verdict:
    """The live Rollout (its preview ReplicaSet, the AnalysisRuns its status names and that
    are not Successful, by role ``pre-promotion``/``post-promotion``) against the target."""
    judged = {
        which: analysis.judge_run(which, run, app.name)
        for which, run in analysis.current(ro, analysis_runs or {}).items()
    }
    want = expect.images
    runs = ", ".join(ro.images) or "no image"
    on_image = all(any(image_matches(h, w) for h in ro.images) for w in want)
    if not ro.observed:
        return Verdict(missing=f"rollout {ro.name}: controller has not observed the new spec yet")
    if not on_image:
        return Verdict(
            failed=f"rollout {ro.name} runs {runs}, not {', '.join(want)}: the expected image was replaced (another release?)"
        )
    for verdict in judged.values():
        if verdict.failed:
            return Verdict(failed=f"rollout {ro.name}: {verdict.failed}")
    if ro.phase == "Degraded":
        return Verdict(failed=f"rollout {ro.name} Degraded: {ro.message or 'no message'}")
    if target is Target.synced:
        return Verdict(done=True)
    released = (
        ro.phase == "Healthy"
        and ro.fully_promoted
        and (not ro.active_selector or ro.active_selector == ro.current_pod_hash)
    )
    step = analysis.POST if target is Target.released else analysis.PRE
    gate = judged.get(step, analysis.AnalysisVerdict())
    if gate.undecided:
        return Verdict(failed=f"rollout {ro.name}: {gate.undecided}")
    # an analysis measuring: its progress is in the run, not the Application: keep looking
    if target is Target.released:
        if released and app.health == "Healthy" and not gate.waiting:
            return Verdict(done=True)
        if gate.waiting:
            return Verdict(missing=gate.waiting, needs_detail=True)
        return Verdict(
            missing=f"rollout {ro.name} is {ro.phase or 'Progressing'}: {ro.message or 'not promoted yet'}"
        )
    if released:
        return Verdict(done=True)  # never paused: went straight to released
    if gate.waiting:
        return Verdict(missing=gate.waiting, needs_detail=True)
    if ro.pre_analysis_wanted and ro.pre_analysis is None:
        return Verdict(
            missing=f"rollout {ro.name}: pre-promotion analysis not started yet", needs_detail=True
        )
    if ro.phase != "Paused" or "BlueGreenPause" not in ro.pause_reasons:
        return Verdict(
            missing=f"rollout {ro.name} is {ro.phase or 'Progressing'}: {ro.message or 'preview not ready'}"
        )
    if ro.preview_selector and ro.preview_selector != ro.current_pod_hash:
        return Verdict(
            missing=f"preview service not yet on the new ReplicaSet ({ro.current_pod_hash})"
        )
    wanted = ro.preview_wanted
    if preview is None:
        return Verdict(missing=f"preview has ?/{wanted} available (ReplicaSet not found)")
    if want and not all(any(image_matches(h, w) for h in preview.images) for w in want):
        return Verdict(
            missing=f"preview ReplicaSet {preview.name} runs {', '.join(preview.images)}"
        )
    if preview.available < wanted:
        return Verdict(missing=f"preview has {preview.available}/{wanted} available")
    return Verdict(done=True)


def _state_key(app: Application) -> tuple[str, ...]:
    """What, in the Application, says the live state may have moved."""
    op = app.operation
    resources = tuple(
        f"{r.kind}/{r.name}={r.status}/{r.health}/{r.health_message}" for r in app.resources
    )
    return (app.revision, app.sync_status, app.health, op.phase if op else "", *resources)


@dataclass
class Outcome:
    """A target state reached: the result of ``sync`` and ``wait`` (text and JSON from here)."""

    app: Application
    rollout: Rollout | None
    expect: Expect
    waited: float
    requests: int = 0
    target: Target = Target.synced

    def text(self) -> str:
        images = ", ".join(self.expect.images) or "-"
        revision = short_sha(self.expect.revision or self.app.revision) or "-"
        return (
            f"{self.app.name} is {self.target.value}: revision {revision}, image {images} "
            f"({format_duration(self.waited)})"
        )

    def payload(self) -> dict[str, Any]:
        ro = self.rollout
        return {
            "app": self.app.name,
            "target": self.target.value,
            "reached": True,
            "revision": self.expect.revision or self.app.revision,
            "images": list(self.expect.images),
            "sync": self.app.sync_status,
            "health": self.app.health,
            "rollout": None
            if ro is None
            else {
                "name": ro.name,
                "phase": ro.phase,
                "message": ro.message,
                "images": list(ro.images),
            },
            "waited_seconds": round(self.waited, 1),
            "http_requests": self.requests,
        }


@dataclass
class Waiter:
    argocd: ArgoCD
    app_name: str
    target: Target
    expect: Expect = field(default_factory=Expect)
    rollout_name: str | None = None
    out: Output | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    watch_analysis: bool | None = None
    """The Rollout runs analysis: look at a Progressing Rollout to report it (see judge_app).
    ``None`` (``wait`` alone): follow it when the app manages an (Cluster)AnalysisTemplate, a
    sign read from the Application itself, so a plain wait makes no extra request."""
    _ref: ResourceRef | None = None
    _last_missing: str = ""
    _last_progress: float = 0.0
    _rollout: Rollout | None = None
    _detail: tuple[tuple[str, ...], float, Verdict] | None = None

    def _say(self, text: str) -> None:
        if self.out is not None:
            self.out.progress(text)

    def _ref_for(self, app: Application) -> ResourceRef | None:
        if self._ref is None:
            from gitops_release.argo.model import find_rollout

            if not any(r.kind == "Rollout" for r in app.resources):
                if self.target is Target.preview_ready:
                    raise UsageError(
                        f"application {app.name} manages no Rollout: there is no preview to wait for",
                        hint="use --for synced or --for released",
                    )
                return None
            self._ref = find_rollout(app, name=self.rollout_name)
        return self._ref

    def _pin(self, app: Application, ro: Rollout | None) -> None:
        if self.expect.revision is None and app.revision:
            self.expect.revision = app.revision
        if (
            not self.expect.images
            and ro is not None
            and self.expect.revision
            and self.expect.contains(app.revision, self.expect.revision)
            and app.sync_status == "Synced"
        ):
            self.expect.images = ro.images

    def evaluate(self, app: Application, *, force_detail: bool = False) -> Verdict:
        self._pin(app, None)
        ref = self._ref_for(app)
        verdict = judge_app(
            self.target,
            app,
            self.expect,
            ref.name if ref else None,
            self._watches_analysis(app),
        )
        if verdict.failed or not (verdict.needs_detail or force_detail):
            return verdict
        key = _state_key(app)
        if (
            not force_detail
            and self._detail is not None
            and self._detail[0] == key
            and self.clock() - self._detail[1] < DETAIL_POLL
        ):
            return self._detail[2]  # nothing moved since the last look: do not ask again yet
        detail = self._evaluate_detail(app, ref, verdict, force_detail=force_detail)
        self._detail = (key, self.clock(), detail)
        return detail

    def _watches_analysis(self, app: Application) -> bool:
        if self.watch_analysis is not None:
            return self.watch_analysis
        return any(r.kind in ANALYSIS_TEMPLATES for r in app.resources)

    def _evaluate_detail(
        self, app: Application, ref: ResourceRef | None, verdict: Verdict, *, force_detail: bool
    ) -> Verdict:
        if ref is None:
            if self.target is Target.released and app.health != "Healthy":
                return Verdict(missing=f"app health {app.health}")
            return Verdict(done=True) if verdict.needs_detail else verdict
        try:
            ro = self.argocd.rollout(self.app_name, ref)
        except (http.BadRequest, http.NotFound):
            # "Rollout ... not found as part of application": not created (yet)
            return Verdict(missing=f"rollout {ref.namespace}/{ref.name} does not exist yet")
        self._rollout = ro
        self._pin(app, ro)
        wants_preview = self.target is Target.preview_ready and (
            ro.phase == "Paused" or force_detail
        )
        preview = self._preview(ro) if wants_preview else None
        detail = judge_rollout(self.target, app, ro, preview, self.expect, self._runs(ro))
        if verdict.needs_detail or detail.failed:
            return detail
        # forced (the timeout report): the app-level reason, plus what the Rollout says, once (Argo
        # CD's health of the Rollout is usually the Rollout's own phase and message)
        says = f"rollout {ro.name} {ro.phase or 'Progressing'}: {ro.message or '-'}"
        repeats = bool(ro.message) and ro.message in verdict.missing
        parts = [says] if repeats else [verdict.missing, says]
        if self.target is Target.preview_ready:
            parts.append(
                f"preview has {preview.available if preview else 0}/{ro.preview_wanted} available"
            )
        return Verdict(missing="; ".join(parts))

    def _runs(self, ro: Rollout) -> dict[str, AnalysisRun]:
        """The pre/post-promotion runs the Rollout's status names and that are not Successful
        (a Successful one needs no read)."""
        runs = {}
        for which, named in ((analysis.PRE, ro.pre_analysis), (analysis.POST, ro.post_analysis)):
            if named is None or named.phase == "Successful":
                continue
            try:
                runs[which] = self.argocd.analysis_run(self.app_name, named.name, ro.namespace)
            except RemoteError:
                continue  # not in the tree yet: the Rollout's own phase still gates
        return runs

    def _preview(self, ro: Rollout) -> ReplicaSet | None:
        pod_hash = ro.preview_selector or ro.current_pod_hash
        if not pod_hash:
            return None
        try:
            return self.argocd.replica_set(self.app_name, f"{ro.name}-{pod_hash}", ro.namespace)
        except RemoteError:
            return None

    def _apps(
        self, first: Application, deadline: float, idle: Callable[[], float]
    ) -> Iterator[Application]:
        """Application states: the stream (reopened when cut or silent), else polling."""
        yield first
        last: Application | None = first
        streaming = True
        quick_empty = 0
        while self.clock() < deadline:
            if streaming:
                got_any = False
                opened = self.clock()
                read_timeout = max(0.2, min(idle(), deadline - self.clock()))
                try:
                    for app in self.argocd.watch(self.app_name, read_timeout=read_timeout):
                        got_any = True
                        last = app
                        yield app
                        if self.clock() >= deadline:
                            return
                except (http.NotFound, http.BadResponse, http.ServerError) as err:
                    # the stream is an optimisation: a proxy or server failing it (5xx after
                    # the client's retries) must not fail a wait that polling can finish
                    self._say(f"watch stream unavailable ({err}); polling every {POLL:.0f}s")
                    streaming = False
                    continue
                if not got_any and self.clock() - opened < read_timeout / 2:
                    # closed at once without a word (a proxy that buffers or cuts streams)
                    quick_empty += 1
                    if quick_empty >= 3:
                        self._say(f"watch stream keeps closing; polling every {POLL:.0f}s")
                        streaming = False
                    self.sleep(min(POLL, max(0.0, deadline - self.clock())))
                    continue
                if not got_any and idle() < STREAM_IDLE and last is not None:
                    yield last  # the app is quiet but the details may have moved: look again
            else:
                self.sleep(min(POLL, max(0.0, deadline - self.clock())))
                yield self.argocd.get_app(self.app_name)

    def run(self, timeout: float) -> Outcome:
        try:
            return self._run(timeout)
        except http.DeadlinePassed:  # the command's deadline fell inside a call
            missing = self._last_missing or "no answer from Argo CD yet"
            raise TimedOut(
                f"timed out after {self._label(timeout)} waiting for {self.app_name} to be {self.target.value}: {missing}",
                hint=f"raise --timeout, or look at `gitops-release status {self.app_name}`",
            ) from None

    def _label(self, timeout: float) -> str:
        """How long we waited, as the user set it: the command's ``--timeout`` when it bounds
        this wait (deploy waits for what is left of it), else this wait's own timeout."""
        return self.argocd.client.deadline_label or format_duration(timeout)

    def _run(self, timeout: float) -> Outcome:
        start = self.clock()
        deadline = start + timeout
        first_requests = self.argocd.client.requests_sent
        first = self.argocd.refresh(self.app_name)
        self._pin(first, None)
        mode = {"idle": STREAM_IDLE}
        for app in self._apps(first, deadline, lambda: mode["idle"]):
            verdict = self.evaluate(app)
            if verdict.failed:
                raise Failed(
                    f"{self.app_name}: {verdict.failed}",
                    hint=f"see `gitops-release status {self.app_name}`; abort or roll back with `gitops-release abort {self.app_name}` / `rollback {self.app_name}`",
                )
            if verdict.done:
                return Outcome(
                    app,
                    self._rollout,
                    self.expect,
                    self.clock() - start,
                    self.argocd.client.requests_sent - first_requests,
                    self.target,
                )
            mode["idle"] = DETAIL_POLL if verdict.needs_detail else STREAM_IDLE
            self._progress(verdict.missing, start)
        app = self.argocd.get_app(self.app_name)
        verdict = self.evaluate(app, force_detail=True)
        if verdict.done:
            return Outcome(
                app,
                self._rollout,
                self.expect,
                self.clock() - start,
                self.argocd.client.requests_sent - first_requests,
                self.target,
            )
        if verdict.failed:
            raise Failed(
                f"{self.app_name}: {verdict.failed}",
                hint=f"see `gitops-release status {self.app_name}`",
            )
        raise TimedOut(
            f"timed out after {self._label(timeout)} waiting for {self.app_name} to be {self.target.value}: {verdict.missing}",
            hint=f"raise --timeout, or look at `gitops-release status {self.app_name}`",
        )

    def _progress(self, missing: str, start: float) -> None:
        now = self.clock()
        if missing != self._last_missing or now - self._last_progress >= PROGRESS_EVERY:
            elapsed = format_duration(now - start)
            self._say(
                f"waiting for {self.app_name} to be {self.target.value} ({elapsed}): {missing}"
            )
            self._last_missing = missing
            self._last_progress = now


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``1h30m`` -> seconds (one parser: :func:`config.parse_duration`)."""
    from gitops_release.config import parse_duration as parse

    return parse(text)


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds}s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m{rest}s" if rest else f"{minutes}m"


def wait_operation(api: ArgoCD, name: str, deadline: float, out: Output) -> None:
    """Wait until the app has no running operation (follows the watch stream)."""
    app = api.get_app(name)
    if not app.operation_running:
        return
    out.progress(f"{name}: an operation is in progress ({_op_text(app)}); waiting for it to finish")
    while time.monotonic() < deadline:
        for app in api.watch(name, read_timeout=max(0.2, min(15.0, deadline - time.monotonic()))):
            if not app.operation_running:
                return
            if time.monotonic() >= deadline:
                break
        app = api.get_app(name)
        if not app.operation_running:
            return
    raise TimedOut(
        f"the operation running on {name} did not finish in time ({_op_text(app)})",
        hint="terminate it in Argo CD, or raise --timeout",
    )


def _op_text(app: Application) -> str:
    op = app.operation
    return f"{op.phase}: {op.message}" if op else "starting"
