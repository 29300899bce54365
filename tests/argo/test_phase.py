"""The phase of a Rollout written by a controller older than v1.0 (no ``status.phase``), computed
as upstream's ``rolloututil.GetRolloutPhase`` / ``CalculateRolloutPhase`` do, on real captured
objects (``tests/data/payloads``) and on the cases those objects do not cover."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gitops_release.argo.model import Rollout

PAYLOADS = Path(__file__).parent.parent / "data" / "payloads"


def load(name: str) -> dict[str, Any]:
    data = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


DEMO = "rollouts-bluegreen-demo/bluegreen-rollout.json"
HEALTHY = "argocd-rollout-objects/healthy_servingActiveService.json"
TIMEOUT = "argocd-rollout-objects/degraded_rolloutTimeout.json"
ABORTED = "argocd-rollout-objects/aborted_bg_rollout.json"


@pytest.mark.parametrize(
    ("name", "phase", "message"),
    [
        (DEMO, "Paused", "BlueGreenPause"),
        (
            TIMEOUT,
            "Degraded",
            'ProgressDeadlineExceeded: ReplicaSet "guestbook-bluegreen-helm-guestbook-6b8cf6f7db"'
            " has timed out progressing.",
        ),
        (ABORTED, "Degraded", "RolloutAborted: Rollout is aborted"),
        # v0.x had no stableRS: today's kubectl plugin shows such a rollout as not yet verified
        (HEALTHY, "Progressing", "waiting for post-promotion verification to complete"),
    ],
)
def test_phase_of_captured_rollouts_without_status_phase(
    name: str, phase: str, message: str
) -> None:
    ro = Rollout.from_json(load(name))
    assert (ro.phase, ro.message) == (phase, message)


@pytest.mark.parametrize("name", [HEALTHY, TIMEOUT])
def test_a_hash_in_observed_generation_counts_as_observed(name: str) -> None:
    obj = load(name)
    assert not str(obj["status"]["observedGeneration"]).isdigit()  # v0.9 wrote a hash
    assert Rollout.from_json(obj).observed


def test_a_numeric_observed_generation_behind_is_not_observed() -> None:
    obj = load(ABORTED)
    obj["metadata"]["generation"] = 4  # "3" observed: the spec changed since
    assert not Rollout.from_json(obj).observed


def _variant(**status: Any) -> dict[str, Any]:
    obj = copy.deepcopy(load(DEMO))
    obj["status"].pop("pauseConditions")
    obj["status"].update(status)
    return obj


def test_calculated_phase_follows_upstream_order() -> None:
    # fully promoted, all available: Healthy with no message
    done = _variant(
        controllerPause=False,
        currentPodHash="6cbccd9f99",
        updatedReplicas=3,
        availableReplicas=3,
    )
    assert (Rollout.from_json(done).phase, Rollout.from_json(done).message) == ("Healthy", "")
    # spec.paused wins over the replica counts
    manual = copy.deepcopy(done)
    manual["spec"]["paused"] = True
    assert Rollout.from_json(manual).phase == "Paused"
    assert Rollout.from_json(manual).message == "manually paused"
    # an InvalidSpec condition is Degraded whatever else
    invalid = copy.deepcopy(done)
    invalid["status"]["conditions"].append(
        {"type": "InvalidSpec", "status": "True", "reason": "X", "message": "bad selector"}
    )
    assert (Rollout.from_json(invalid).phase, Rollout.from_json(invalid).message) == (
        "Degraded",
        "InvalidSpec: bad selector",
    )
    # replicas still to update, then to become available, then the active cut-over
    assert Rollout.from_json(_variant(controllerPause=False, updatedReplicas=1)).message == (
        "more replicas need to be updated"
    )
    assert Rollout.from_json(
        _variant(controllerPause=False, updatedReplicas=3, availableReplicas=2)
    ).message == ("updated replicas are still becoming available")
    assert Rollout.from_json(_variant(controllerPause=False)).message == (
        "active service cutover pending"
    )


def test_a_controller_phase_is_kept_as_written() -> None:
    obj = _variant(phase="Degraded", message="RolloutAborted: Rollout aborted update to revision 2")
    ro = Rollout.from_json(obj)
    assert (ro.phase, ro.message) == (
        "Degraded",
        "RolloutAborted: Rollout aborted update to revision 2",
    )
