"""``scaffold APP``: render ``templates/app/`` into a blue-green app directory (pure file output).

Order of work, so that bad input writes nothing: resolve the defaults (origin URL, branch) from
the checkout, validate every field, render every file, lint the rendered files as a whole, check
that nothing would be overwritten (unless ``force``), and only then write. ``--commit``/``--push``
go through :mod:`gitops_release.git.repo`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import gitops_release
from gitops_release.config import Settings
from gitops_release.errors import Failed, UsageError
from gitops_release.lint import check as lint
from gitops_release.output import short_sha
from gitops_release.scaffold import templating
from gitops_release.scaffold.spec import AppSpec, check_repo_url, check_revision, validate

# template file -> where it goes; "{app_dir}" is --path, "{app}" the app name
LAYOUT: dict[str, str] = {
    "rollout.yaml": "{app_dir}/rollout.yaml",
    "service.yaml": "{app_dir}/service.yaml",
    "ingress.yaml": "{app_dir}/ingress.yaml",
    "application.yaml": "argocd/{app}.yaml",
}
KUSTOMIZATION = ("kustomization.yaml", "{app_dir}/kustomization.yaml")
ANALYSIS = ("analysis.yaml", "{app_dir}/analysis.yaml")


def default_templates() -> Path:
    """The shipped ``templates/app``: inside an installed wheel, else in the source checkout."""
    installed = resources.files("gitops_release") / "templates" / "app"
    if installed.is_dir():
        return Path(str(installed))
    source = Path(gitops_release.__file__).resolve().parent.parent / "templates" / "app"
    if source.is_dir():
        return source
    raise Failed(
        "the manifest templates are missing from this installation",
        hint="reinstall gitops-release, or pass --templates DIR",
    )


def _template_files(
    templates: Path | None, kustomize: bool, analysis: bool = False
) -> dict[str, str]:
    """Template name -> text, for the files this run renders."""
    directory = default_templates() if templates is None else templates
    if not directory.is_dir():
        raise UsageError(f"--templates: {directory} is not a directory")
    names = [
        *LAYOUT,
        *([KUSTOMIZATION[0]] if kustomize else []),
        *([ANALYSIS[0]] if analysis else []),
    ]
    texts = {}
    for name in names:
        path = directory / name
        try:
            texts[name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(
                f"--templates: cannot read {path}: {getattr(err, 'strerror', None) or err}",
                hint=f"the directory needs {', '.join(names)}",
            ) from None
    return texts


def with_checkout_defaults(spec: AppSpec, repo_dir: Path) -> AppSpec:
    """Fill ``repo_url`` and ``target_revision`` from the checkout's origin and branch, and
    ``repo_prefix`` when ``repo_dir`` is below the top of the checkout."""
    from gitops_release.git.repo import current_branch, origin_url, toplevel

    top = toplevel(repo_dir)
    if top is not None:
        prefix = repo_dir.resolve().relative_to(top.resolve()).as_posix()
        spec = replace(spec, repo_prefix="" if prefix == "." else prefix)
    repo_url, revision = spec.repo_url, spec.target_revision
    if repo_url is None:
        repo_url = origin_url(repo_dir)
        if repo_url is None:
            raise UsageError(
                f"--repo-url: not given, and {repo_dir} has no 'origin' remote to take it from",
                hint="pass --repo-url URL of the GitOps repository Argo CD reads",
            )
        check_repo_url("--repo-url (from the origin remote)", repo_url)
    if revision is None:
        revision = current_branch(repo_dir)
        if revision is None:
            raise UsageError(
                f"--target-revision: not given, and {repo_dir} is not on a branch",
                hint="check out the branch Argo CD should follow, or pass --target-revision",
            )
        check_revision("--target-revision (from the current branch)", revision)
    return replace(spec, repo_url=repo_url, target_revision=revision)


def render(
    spec: AppSpec, *, templates: Path | None = None, kustomize: bool = False
) -> dict[str, str]:
    """Relative path in the repository -> file text. ``spec`` must be complete and valid."""
    values = spec.values()
    layout = dict(LAYOUT)
    if kustomize:
        layout[KUSTOMIZATION[0]] = KUSTOMIZATION[1]
    if spec.analysis:
        layout[ANALYSIS[0]] = ANALYSIS[1]
    files = {}
    for name, text in _template_files(templates, kustomize, bool(spec.analysis)).items():
        target = layout[name].format(app_dir=spec.app_path, app=spec.app)
        files[target] = templating.render(text, values, source=f"template {name}")
    return files


@dataclass
class ScaffoldResult:
    app: str
    files: dict[str, str]
    written: bool
    warnings: list[str] = field(default_factory=list)
    commit: str | None = None
    pushed: bool = False
    application: Path = Path()
    """The Argo CD Application manifest written (``argocd/APP.yaml`` under the checkout)."""

    def text(self) -> str:
        if not self.written:
            text = "".join(f"--- {rel} (not written)\n{body}" for rel, body in self.files.items())
            return text.rstrip("\n")
        lines = [f"wrote {rel}" for rel in self.files]
        lines.append(f"lint: ok ({len(self.warnings)} warning(s))" if self.warnings else "lint: ok")
        if self.commit:
            lines.append(
                f"committed {short_sha(self.commit)}" + (" and pushed" if self.pushed else "")
            )
            if not self.pushed:
                lines.append("next: git push")
        else:
            lines.append("next: commit and push the files (or scaffold with --commit --push)")
        lines.append(f"then: gitops-release app create --file {self.application}")
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        return self.as_json()

    def as_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "changed": self.written,
            "files": list(self.files),
            "warnings": self.warnings,
            "commit": self.commit,
            "pushed": self.pushed,
            **({} if self.written else {"contents": self.files}),
        }


def _inside(repo_dir: Path, relative: str) -> Path:
    """``repo_dir/relative``, refusing anything a symlink would lead outside the repository."""
    root = repo_dir.resolve()
    target = (root / relative).resolve()
    if root != target and root not in target.parents:
        raise UsageError(f"{relative}: leads outside {repo_dir} (a symbolic link?)")
    return target


def _check_free(repo_dir: Path, spec: AppSpec, files: Mapping[str, str]) -> None:
    app_dir = _inside(repo_dir, spec.app_path)
    if app_dir.exists() and (not app_dir.is_dir() or any(app_dir.iterdir())):
        raise UsageError(
            f"{spec.app_path}: already exists in {repo_dir}",
            hint="choose another --path, or --force to overwrite the scaffold files",
        )
    for relative in files:
        if _inside(repo_dir, relative).exists():
            raise UsageError(
                f"{relative}: already exists in {repo_dir}", hint="--force overwrites it"
            )


def _check_can_commit(repo_dir: Path, flag: str) -> None:
    """Refuse --commit/--push before writing anything when git could not take the files."""
    from gitops_release.git.repo import current_branch, toplevel

    if toplevel(repo_dir) is None:
        raise UsageError(
            f"{flag}: {repo_dir} is not a git checkout", hint="git init or clone first"
        )
    if flag == "--push" and current_branch(repo_dir) is None:
        raise UsageError(f"{flag}: {repo_dir} is on a detached HEAD", hint="check out a branch")


def write_files(repo_dir: Path, files: Mapping[str, str]) -> None:
    """Write each file atomically (temporary file in the same directory, then rename)."""
    for relative, text in files.items():
        target = _inside(repo_dir, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def scaffold(
    spec: AppSpec,
    *,
    repo_dir: Path = Path("."),
    templates: Path | None = None,
    kustomize: bool = False,
    force: bool = False,
    dry_run: bool = False,
    commit: bool = False,
    push: bool = False,
    settings: Settings | None = None,
) -> ScaffoldResult:
    """Validate, render, lint and (unless ``dry_run``) write the app; optionally commit and push."""
    if not repo_dir.is_dir():
        raise UsageError(f"--repo-dir: {repo_dir} is not a directory")
    validate(spec)
    spec = validate(with_checkout_defaults(spec, repo_dir))
    files = render(spec, templates=templates, kustomize=kustomize)
    findings = lint.lint_texts(files, manual_gate=not spec.auto_promote)
    errors = [f.line() for f in findings if f.severity == "error"]
    if errors:
        raise Failed(
            "the rendered files do not pass lint:\n  " + "\n  ".join(errors),
            hint="fix the templates given with --templates",
        )
    result = ScaffoldResult(
        app=spec.app,
        files=files,
        written=False,
        warnings=[f.line() for f in findings],
        application=repo_dir / "argocd" / f"{spec.app}.yaml",
    )
    if not force:
        _check_free(repo_dir, spec, files)
    if commit or push:
        _check_can_commit(repo_dir, "--push" if push else "--commit")
    if dry_run:
        return result
    write_files(repo_dir, files)
    result.written = True
    if commit or push:
        from gitops_release.git.push import push_branch
        from gitops_release.git.repo import commit_paths

        message = f"scaffold({spec.app}): blue-green app {spec.app} with {spec.image}"
        result.commit = commit_paths(repo_dir, list(files), message)
        if push:
            push_branch(repo_dir, settings=settings)
            result.pushed = True
    return result
