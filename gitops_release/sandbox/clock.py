"""Controller time: the wall clock divided by a time scale, plus a test-controlled offset.

With ``scale=0.01`` thirty seconds of controller time (a scale-down delay) pass in 0.3 s of
wall time. Tests can also jump ahead with :meth:`Clock.advance` without sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("time scale must be > 0")
        self.scale = scale
        self._wall0 = datetime.now(UTC).replace(microsecond=0)
        self._mono0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def seconds(self) -> float:
        """Controller seconds since the sandbox started."""
        with self._lock:
            return (time.monotonic() - self._mono0) / self.scale + self._offset

    def now(self) -> datetime:
        return self._wall0 + timedelta(seconds=self.seconds())

    def at(self, seconds: float) -> datetime:
        return self._wall0 + timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        """Jump controller time forward (tests, the control API)."""
        with self._lock:
            self._offset += max(0.0, seconds)

    def wall(self, seconds: float) -> float:
        """Wall seconds that ``seconds`` of controller time take."""
        return seconds * self.scale


def rfc3339(moment: datetime) -> str:
    """Kubernetes' metav1.Time wire form: second precision, ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery duration.HumanDuration, as kubectl prints ages: 70s, 2m57s, 10m, 3h59m."""
    s = max(0, int(seconds))
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"
