"""Journey 2, bad release (shared/SCENARIOS.md), driven through the command line as its people
would, on real HAProxy, the Prometheus leitstand manages, and PostgreSQL:

production serves 2.4.0 (2.3.0 before it). Version 2.4.1 goes through the same admission as any
production release (approved change, passing gate run of its artifact, a second person's
approval), then its 5xx rate jumps at the first canary step: the analysis on the managed
Prometheus fails, the weight goes to 0 at once, DevOps and the developers are told, the change
log gets the automatic entry and a root-cause task is due in 24 h. Later a manual rollback goes
to the last good version, 2.3.0, never back to the rejected 2.4.1, and its duration is measured
against the policy's 60 s.

The full quality gate runs for real in the release-day journey; here the run is recorded through
the gate service's own recording API (all four stages passed for the artifact digest).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from leitstand.ledger.service import EntryQuery
from leitstand.releases.model import Phase
from support.gate_runs import ALL_STAGES, record_gate_run
from support.releases_lab import LoadLoop

if TYPE_CHECKING:
    from conftest import Journey  # the fixture's type (tests/journeys/conftest.py)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SERVICE = "enterprise-api"
ENV = "production"


def test_a_bad_canary_rolls_back_at_once_and_a_manual_rollback_skips_it(
    journey: Journey,
) -> None:
    j, lab, c = journey, journey.lab, journey.container
    lab.versions.add("2.3.0")
    lab.versions.add("2.4.0")
    lab.versions.add("2.4.1", error_rate=0.3)  # three in ten answers are 500s
    j.released("2.3.0")
    j.released("2.4.0")  # 2.3.0's colour is retired: the old version is no longer warm

    # The change for 2.4.1, approved by the compliance officer; CI's gate run for its artifact.
    change = j.json(
        j.cli(
            "dana", "change", "open", "--service", SERVICE, "--version", "2.4.1",
            "--category", "normal", "--what", "Tarifrechner schneller", "--why", "Last",
            "--rollback", "Rollback auf 2.4.0", "--tests", "Unit, Integration", "--json",
        )
    )  # fmt: skip
    cid = change["id"]
    j.cli("clara", "change", "approve", str(cid))
    digest = record_gate_run(c, service=SERVICE, version="2.4.1", change_id=cid)
    (run,) = c.gates.recorded(version="2.4.1")
    assert set(run.stages) == set(ALL_STAGES) and run.status == "pass"

    load = LoadLoop(lab.url, threads=3).start()
    try:
        load.wait_for(300)
        started = j.lines(
            j.cli(
                "olaf", "release", "start", SERVICE, "2.4.1", "--env", ENV, "--strategy",
                "canary", "--artifact-digest", digest, "--json",
            )
        )  # fmt: skip
        rid = started[-1]["id"]
        assert started[-1]["phase"] == Phase.AWAITING_APPROVAL.value
        # The second person approves and follows it: rolled back at the first step, exit 1.
        followed = j.cli("otto", "release", "approve", str(rid), "--json", ok=False)
        assert followed.returncode == 1, followed.stderr
        assert f"release #{rid}" in followed.stderr and "rolled_back" in followed.stderr
        events = j.lines(followed)
        bad = c.releases.get(rid)
        assert bad.phase is Phase.ROLLED_BACK and events[-1]["phase"] == "rolled_back"
        assert [e["payload"]["percent"] for e in events if e["event"] == "release.weight_set"] == [
            5
        ]
        analyses = c.releases.analysis_list(rid)
        (analysis,) = analyses
        assert (analysis.step, analysis.weight, analysis.verdict) == (0, 5, "fail")
        # Measured on the managed Prometheus: the canary's 5xx rate against the stable's.
        assert analysis.canary["error"] is None and analysis.canary["requests"] >= 20
        assert analysis.canary["error_rate"] >= 5 and analysis.stable["error_rate"] == 0
        # The weight went to 0 at once.
        assert bad.rollback_seconds is not None and bad.rollback_seconds < 1
        (target,) = c.releases.targets()
        assert target.active_version == "2.4.0" and target.previous_version == "2.3.0"
        assert target.routing.weight(bad.target_slot) == 0

        # DevOps and the developers are told; the change log has the automatic entry.
        assert "ReleaseRolledBack" in [a.name for a in c.alerting.queries.alert_list()]
        with c.db.reader() as session:
            told = c.ledger.entries(session, EntryQuery(action="notification.requested"))
        assert any(t.payload.get("roles") == ["devops", "developer"] for t in told), [
            t.payload for t in told
        ]
        log = j.json(j.cli("clara", "change", "log", "--change", str(cid), "--json", "--lang",
                           "en"))  # fmt: skip
        actions = [row["action"] for row in log]
        assert actions.index("release.analysed") < actions.index("change.rolled_back"), actions
        (rolled,) = [row for row in log if row["action"] == "change.rolled_back"]
        assert rolled["version"] == "2.4.1" and rolled["actor"] != "otto"  # the system did it
        # A root-cause task, due within 24 hours of the rollback.
        (task,) = [t for t in c.releases.task_list(status="open") if t.kind == "root_cause"]
        assert "2.4.1" in task.title and task.release_id == rid
        due = task.due_at - c.clock.now()
        assert timedelta(hours=23) < due <= timedelta(hours=24)

        # Customers complain: a manual rollback goes to the last good version, 2.3.0, never
        # back to the rejected 2.4.1; the old colour is gone, so 2.3.0 is deployed again.
        manual = j.lines(
            j.cli(
                "olaf", "release", "rollback", SERVICE, "--env", ENV, "--reason",
                "Kunden melden Fehler", "--json",
            )
        )  # fmt: skip
        done = manual[-1]
        assert (done["kind"], done["version"], done["stable_version"]) == (
            "rollback",
            "2.3.0",
            "2.4.0",
        )
        assert done["phase"] == Phase.COMPLETED.value, manual[-5:]
        assert done["requested_by"] == "olaf"
        assert done["rollback_seconds"] is not None and 0 < done["rollback_seconds"] <= 60
        load.wait_for(len(load.results) + 300)
    finally:
        load.stop()
    (target,) = c.releases.targets()
    assert target.active_version == "2.3.0"
    assert target.previous_version != "2.4.1"  # the rejected version is never a target again
    with c.db.reader() as session:
        (switched,) = c.ledger.entries(
            session, EntryQuery(subject=f"release:{done['id']}", action="release.switched")
        )
    assert switched.payload["rollback_within_limit"] is True
    assert switched.payload["max_rollback_seconds"] == 60
    # Only 2.4.1's own 500s reached anyone, and 2.3.0 serves again.
    assert {version for _s, _e, _status, version in load.failed} <= {"2.4.1"}
    assert "2.3.0" in load.versions()
    # A second manual rollback has no good version left to go to but 2.4.0 (rolled back from
    # by the manual rollback, so no longer good): it refuses with a clear message, never 2.4.1.
    again = j.cli("olaf", "release", "rollback", SERVICE, "--env", ENV, "--reason", "x", ok=False)
    assert again.returncode != 0 and "2.4.1" not in again.stdout
    assert "nothing to roll back to" in again.stderr, again.stderr
