"""``.ci/run`` installs every tool a test fails without under ``CI`` (the tests skip locally)."""

from __future__ import annotations

import re
from pathlib import Path

CI_RUN = Path(__file__).resolve().parent.parent / ".ci" / "run"


def _install_lines() -> list[str]:
    return [ln for ln in CI_RUN.read_text(encoding="utf-8").splitlines() if "apt-get install" in ln]


def test_ci_installs_the_registry_and_prometheus_from_debian_without_recommends() -> None:
    for package in ("docker-registry", "prometheus"):
        lines = [ln for ln in _install_lines() if re.search(rf"\s{package}(\s|$|>)", ln)]
        assert lines, f".ci/run does not install {package}"
        assert all("--no-install-recommends" in ln for ln in lines), lines


def test_ci_installs_prometheus_only_when_missing_and_starts_no_service() -> None:
    text = CI_RUN.read_text(encoding="utf-8")
    guard = text.index("[ ! -x /usr/bin/prometheus ]")
    install = text.index("prometheus >/dev/null", guard)
    # Debian's package starts prometheus.service from its postinst: a policy-rc.d that exits 101
    # forbids it for the install's duration, and it is removed afterwards.
    policy = text.index("/usr/sbin/policy-rc.d", guard)
    assert policy < install
    assert "exit 101" in text[policy:install]
    assert "rm -f /usr/sbin/policy-rc.d" in text[install:]
