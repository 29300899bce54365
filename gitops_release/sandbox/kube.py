"""Small Kubernetes conventions the sandbox imitates: names, hashes, uids, label matching."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

# k8s.io/apimachinery/pkg/util/rand: the alphabet of generated names (no vowels, no 0/1/3).
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"

_rng = random.Random()


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each byte mapped into ALPHANUMS."""
    return "".join(ALPHANUMS[b % len(ALPHANUMS)] for b in text.encode())


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def pod_template_hash(template: Any, collision_count: int = 0) -> str:
    """The ``rollouts-pod-template-hash`` of a pod template.

    The controller (controller.ComputeHash) hashes a spew dump of the template with FNV-32a and
    safe-encodes the decimal number; we hash canonical JSON, so the names look the same
    (``69dc9f5f56``) and are stable per template, though not byte-identical to a real cluster.
    """
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    return safe_encode(str(fnv32a(data)))


def random_suffix(length: int = 5) -> str:
    return "".join(_rng.choice(ALPHANUMS) for _ in range(length))


def new_uid() -> str:
    return str(uuid.uuid4())


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def api_group(api_version: str) -> tuple[str, str]:
    """``argoproj.io/v1alpha1`` -> (``argoproj.io``, ``v1alpha1``); ``v1`` -> ("", ``v1``)."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def is_subset(desired: Any, live: Any) -> bool:
    """True when every field ``desired`` sets has the same value in ``live`` (a rough 3-way diff:
    fields the controller or a user added live, like ``spec.restartAt``, do not count)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(is_subset(v, live.get(k)) for k, v in desired.items() if v is not None)
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(is_subset(d, x) for d, x in zip(desired, live, strict=True))
    if isinstance(desired, (int, float)) and isinstance(live, (int, float)):
        return desired == live
    return bool(desired == live or str(desired) == str(live))
