"""Secrets: canary tokens through the failure paths; none survives anywhere we can look."""

from __future__ import annotations

from pathlib import Path

import rel_faults_git
import rel_secrets
from rel_common import EVIDENCE


def test_no_canary_anywhere(tmp_path: Path) -> None:
    rel_secrets.more_paths(tmp_path / "paths")
    if EVIDENCE.cmdline_samples == 0:  # run alone: watch /proc during one slow push
        rel_faults_git.sigterm_url(tmp_path / "slow-push")
    checks = rel_secrets.scan()
    assert len(checks) >= 10
    leaks = [f"{c.name}: {c.detail}" for c in checks if not c.held]
    assert not leaks, "\n".join(leaks)


def test_the_scan_finds_a_planted_leak(tmp_path: Path) -> None:
    """The scan is not blind: a token planted in an output and in a commit is found."""
    saved = list(EVIDENCE.texts), list(EVIDENCE.git_dirs)
    try:
        EVIDENCE.texts[:] = [("planted", f"error: push failed for {rel_secrets.GIT_CANARY}")]
        repo = tmp_path / "planted"
        rel_secrets.subprocess.run(["git", "init", "-q", str(repo)], check=True)
        (repo / "f").write_text("x")
        rel_secrets.subprocess.run(["git", "-C", str(repo), "add", "f"], check=True)
        rel_secrets.subprocess.run(
            ["git", "-C", str(repo), "commit", "-qm", f"token {rel_secrets.ARGO_CANARY}"],
            check=True,
        )
        EVIDENCE.git_dirs[:] = [("planted repo", repo)]
        checks = {c.name: c for c in rel_secrets.scan()}
        assert not checks["planted"].held
        assert not checks["planted repo: commits"].held
        assert checks["planted repo: .git/config"].held
    finally:
        EVIDENCE.texts[:], EVIDENCE.git_dirs[:] = saved
