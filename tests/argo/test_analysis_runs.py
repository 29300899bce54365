"""``argo/analysis.py`` and the AnalysisRun model: credentials in a live run's spec (a provider
URL's user:password, token headers) are registered as secrets as the run is read, so a
measurement or message that echoes them never reaches a progress line, an error or a record."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from gitops_release import output
from gitops_release.argo import analysis
from gitops_release.argo.model import AnalysisRun

TOKEN = "tok-9c1e7b3a5f"
PASSWORD = "pw-4e8d2a6c0b"


@pytest.fixture(autouse=True)
def no_secrets() -> Iterator[None]:
    output.forget_secrets()
    yield
    output.forget_secrets()


def _run() -> AnalysisRun:
    echoed = f"Bearer {TOKEN} / {base64.b64encode(f'bot:{PASSWORD}'.encode()).decode()}"
    return AnalysisRun.from_json(
        {
            "metadata": {"name": "myapp-6bb7-2-pre", "namespace": "default"},
            "spec": {
                "metrics": [
                    {
                        "name": "web",
                        "successCondition": "result.ok == true",
                        "provider": {
                            "web": {
                                "url": "http://metrics/check",
                                "headers": [
                                    {"key": "Authorization", "value": f"Bearer {TOKEN}"},
                                    {"key": "Accept", "value": "application/json"},
                                ],
                            }
                        },
                    },
                    {
                        "name": "prom",
                        "provider": {"prometheus": {"address": f"http://bot:{PASSWORD}@prom:9090"}},
                    },
                ]
            },
            "status": {
                "phase": "Failed",
                "message": f"denied for {echoed}",
                "metricResults": [
                    {
                        "name": "web",
                        "phase": "Failed",
                        "count": 1,
                        "failed": 1,
                        "measurements": [
                            {"phase": "Failed", "value": json.dumps({"echo": echoed})}
                        ],
                    }
                ],
            },
        }
    )


def test_echoed_provider_credentials_are_masked_everywhere() -> None:
    run = _run()
    verdict = analysis.judge_run(analysis.PRE, run, "myapp")
    texts = [
        output.redact(verdict.failed),
        output.redact(json.dumps(analysis.run_payload(analysis.PRE, run))),
        output.redact(analysis.summary(analysis.PRE, run)),
    ]
    assert 'metric "web"' in texts[0]
    for text in texts:
        assert TOKEN not in text and PASSWORD not in text
        assert base64.b64encode(f"bot:{PASSWORD}".encode()).decode() not in text
    assert "application/json" not in output._SECRETS  # an ordinary header is not a secret
