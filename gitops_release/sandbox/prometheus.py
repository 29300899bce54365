"""A real Prometheus beside the sandbox: Debian's ``prometheus`` (2.42) started on 127.0.0.1 with
a free port and its TSDB in a scratch directory, scraping the simulated pods' metrics
(``/sandbox/api/v1/metrics`` on the API port, one static target) every second, and stopped by
its pid. ``sandbox up --prometheus`` and the tests' ``prometheus`` fixture both start it here.

The analysis templates' ``prometheus.address`` is :attr:`Prometheus.url`; queries go to it over
real HTTP like any other Prometheus.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_BINARY = "/usr/bin/prometheus"
INSTALL_HINT = "apt-get install -y --no-install-recommends prometheus"
METRICS_PATH = "/sandbox/api/v1/metrics"


def target_url(target: str) -> str:
    return f"http://{target}{METRICS_PATH}"


class PrometheusMissing(RuntimeError):
    """No prometheus binary on this machine."""


class PrometheusFailed(RuntimeError):
    """Prometheus exited or never became ready."""


def find_binary() -> str | None:
    found = shutil.which("prometheus")
    if found:
        return found
    return DEFAULT_BINARY if Path(DEFAULT_BINARY).is_file() else None


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def scrape_config(target: str, interval: float = 1.0) -> dict[str, object]:
    """The configuration: one job scraping the sandbox's pod metrics at ``target`` (host:port)."""
    every = f"{int(interval * 1000)}ms"
    return {
        "global": {"scrape_interval": every, "evaluation_interval": every},
        "scrape_configs": [
            {
                "job_name": "sandbox-pods",
                "metrics_path": METRICS_PATH,
                "scrape_interval": every,
                "scrape_timeout": every,
                "honor_labels": True,  # the pods' own namespace/pod labels, not the target's
                "static_configs": [{"targets": [target]}],
            }
        ],
    }


class Prometheus:
    """One Prometheus process; ``start()`` returns once it is ready and has scraped the target."""

    def __init__(
        self,
        target: str,
        *,
        binary: str | None = None,
        host: str = "127.0.0.1",
        workdir: Path | None = None,
        interval: float = 1.0,
    ) -> None:
        self.target, self.host, self.interval = target, host, interval
        self.binary = binary or find_binary()
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="gitops-sandbox-prometheus-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def start(self, timeout: float = 30.0) -> Prometheus:
        if self.binary is None:
            raise PrometheusMissing(f"prometheus is not installed ({INSTALL_HINT})")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(json.dumps(scrape_config(self.target, self.interval)))  # JSON is YAML
        port = _free_port(self.host)
        self.url = f"http://{self.host}:{port}"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address={self.host}:{port}",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        # Ready is not enough: Prometheus hands discovered targets (static ones too) to its
        # scrape manager at most every 5 s, so the first scrape comes up to ~6 s after start.
        # Return once the sandbox has been scraped, so the first queries find its series.
        for check, what in (
            (self._ready, "ready"),
            (self._scraped, "scraping " + target_url(self.target)),
        ):
            while not check():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    tail = self.log_path.read_text(errors="replace")[-2000:]
                    self.stop()
                    raise PrometheusFailed(f"prometheus on {self.url} is not {what}: {tail}")
                time.sleep(0.05)
        return self

    def _scraped(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/api/v1/targets", timeout=1) as response:
                targets = json.loads(response.read())["data"]["activeTargets"]
        except (OSError, ValueError, KeyError, urllib.error.URLError):
            return False
        return any(t.get("health") == "up" for t in targets)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as response:
                return int(response.status) == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        """Terminate the process by its pid (kill after 10 s); idempotent."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
