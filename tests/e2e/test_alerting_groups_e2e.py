"""Journey 3 on the real engines: one Alertmanager group with two broker houses' alerts opens one
SEV-1 incident for both; a later alert of the group joins it; awareness is the alert's start.

The alerts are posted to the Alertmanager that `leitstand up` manages (as Prometheus would); it
groups them by the policy's ``monitoring.stack.group_by`` and posts the group to leitstand.
Timeouts are shortened in the policy.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from leitstand.testing import ServerProcess, free_port, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("prometheus-alertmanager") is None, reason="needs the Debian packages"
    ),
]
NORD, SUED, WEST = "example-makler-nord", "example-makler-sued", "example-vorsorge-west"


def _policy(path: Path) -> Path:
    path.write_text(
        """
monitoring:
  stack: {group_wait: 1s}
alerting:
  ack_timeout: 5s
  dedup_window: 2s
"""
    )
    return path


def _post(alertmanager: str, tenant: str, starts: datetime) -> None:
    alert = {
        "labels": {
            "alertname": "HighErrorRate",
            "severity": "critical",
            "service": "smart-bav-portal",
            "tenant": tenant,
        },
        "annotations": {"summary": f"5xx über 5 % für {tenant}"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
    answer = httpx.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=10)
    assert answer.status_code == 200, answer.text


def _incidents(server: ServerProcess, auth: dict[str, str]) -> list[dict[str, Any]]:
    answer = httpx.get(f"{server.url}/api/v1/incidents", headers=auth, timeout=10)
    result: list[dict[str, Any]] = answer.json()
    return result


def test_one_alertmanager_group_opens_one_incident_for_every_broker_house(
    tmp_path: Path,
) -> None:
    policy = _policy(tmp_path / "leitstand.yaml")
    server = ServerProcess(
        home=tmp_path / ".leitstand",
        port=free_port(),
        env={"LEITSTAND_POLICY": str(policy)},
        managed_stack=True,
    )
    try:
        server.wait_ready()
        found = re.search(r"Alertmanager (http://127\.0\.0\.1:\d+)", server.stdout())
        assert found, server.stdout()
        alertmanager = found.group(1)
        wait_for(
            "alertmanager",
            lambda: httpx.get(f"{alertmanager}/-/ready", timeout=2).status_code == 200,
        )
        auth = {"Authorization": f"Bearer {server.token()}"}
        started = (datetime.now(UTC) - timedelta(minutes=3)).replace(microsecond=0)
        _post(alertmanager, NORD, started)
        _post(alertmanager, SUED, started)

        [incident] = wait_for(
            "one incident for the group",
            lambda: (found := _incidents(server, auth)) and len(found[0]["tenants"]) == 2 and found,
            timeout=60,
        )
        assert incident["severity"] == "SEV-1"
        assert sorted(incident["tenants"]) == sorted([NORD, SUED])
        aware = datetime.fromisoformat(incident["aware_at"].replace("Z", "+00:00"))
        assert aware == started  # the alert's start, not the escalation 5 s later
        assert incident["detected_at"] == incident["aware_at"]

        _post(alertmanager, WEST, datetime.now(UTC).replace(microsecond=0))
        joined = wait_for(
            "the later alert joins",
            lambda: (i := _incidents(server, auth)) and len(i[0]["tenants"]) == 3 and i,
            timeout=60,
        )
        assert [i["id"] for i in joined] == [incident["id"]]
        assert sorted(joined[0]["tenants"]) == sorted([NORD, SUED, WEST])
        timeline = httpx.get(
            f"{server.url}/api/v1/incidents/{incident['id']}/timeline", headers=auth, timeout=10
        ).json()
        assert sum(e["action"] == "incident.alert_joined" for e in timeline) == 2
        wait_for(
            "every escalation at level 3",
            lambda: all(
                a["level"] == 3
                for a in httpx.get(f"{server.url}/api/v1/alerts", headers=auth, timeout=10).json()
            ),
            timeout=60,
        )
        assert len(_incidents(server, auth)) == 1
    finally:
        code = server.stop()
        assert code == 0, server.stderr()[-3000:]
