"""Escalation: levels, acknowledgement, resolution, deduplication, durable timers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from leitstand.alerting.schemas import parse_webhook
from leitstand.alerting.store import AlertRow, NotificationRow
from leitstand.auth.model import Actor
from leitstand.bootstrap import Container, build
from leitstand.ledger.service import EntryQuery
from leitstand.policy.model import Policy
from leitstand.scheduler.store import JobRow
from leitstand.settings import Settings
from leitstand.testing import ManualClock
from leitstand.testing.mail import SmtpSink

from .conftest import later, pump

OPS = Actor(name="anna", role="devops")
BACKUPS = Actor(name="leitstand:backups", role="system")


def _raise(container: Container, severity: str = "critical", **labels: str) -> int:
    with container.db.transaction() as session:
        ref = container.alerting.raise_alert(
            session,
            name="HighErrorRate",
            severity=severity,
            summary="5xx rate over 5%",
            labels=labels,
            service="portal",
            actor=BACKUPS,
        )
    return ref.id


def _actions(container: Container) -> list[str]:
    with container.db.reader() as session:
        entries = container.ledger.entries(session, EntryQuery(limit=None, newest_first=False))
    return [e.action for e in entries]


def _recipients(smtp: SmtpSink, count: int) -> list[set[str]]:
    return [set(m.recipients) for m in smtp.wait_for(count)]


def test_unacknowledged_critical_alert_escalates_to_level_3_and_opens_one_incident(
    alerts: Container, clock: ManualClock, smtp: SmtpSink
) -> None:
    alert_id = _raise(alerts)
    pump(alerts)
    oncall = alerts.alerting.oncall()
    assert oncall is not None
    level2 = {"anna@example.org", f"{oncall.person}@example.org"}
    assert set().union(*_recipients(smtp, 2)) == level2
    assert "Stufe 2" in smtp.mails[0].subject

    later(clock, alerts, minutes=14)
    assert alerts.alerting.queries.alert(alert_id).level == 2
    later(clock, alerts, minutes=1, seconds=1)
    data = alerts.alerting.queries.alert(alert_id)
    assert data.level == 3
    incident = data.escalation.incident_id
    assert incident == "INC-2026-0001"
    level3 = {"anna@example.org", "carla@example.org", "dirk@example.org", "eva@example.org"}
    level3.add("mario@example.org")
    mails = smtp.wait_for(2 + len(level3))
    # The SEV-1 incident also informs everyone by its escalation rule (incident domain).
    paged = [m for m in mails[2:] if "Stufe 3" in m.subject]
    assert {r for m in paged for r in m.recipients} == level3
    assert "INC-2026-0001" in mails[-1].text()

    later(clock, alerts, hours=2)
    assert [i.id for i in alerts.incidents.list()] == ["INC-2026-0001"]
    actions = _actions(alerts)
    assert actions.count("alert.escalated") == 1
    assert actions.count("incident.opened") == 1
    assert actions.index("alert.fired") < actions.index("alert.escalated")
    incident_row = alerts.incidents.get("INC-2026-0001")
    assert (incident_row.severity, incident_row.alert_id) == ("SEV-1", alert_id)


def test_acknowledged_alert_does_not_escalate(
    alerts: Container, clock: ManualClock, smtp: SmtpSink
) -> None:
    alert_id = _raise(alerts)
    pump(alerts)
    later(clock, alerts, minutes=10)
    alerts.alerting.acknowledge(alert_id=alert_id, actor=OPS, note="looking")
    later(clock, alerts, minutes=30)
    data = alerts.alerting.queries.alert(alert_id)
    assert (data.level, data.escalation.state) == (2, "acknowledged")
    assert data.acknowledged_by == "anna"
    assert alerts.incidents.list() == []
    assert "alert.escalated" not in _actions(alerts)
    with alerts.db.reader() as session:
        timers = session.execute(
            sa.select(JobRow.status).where(JobRow.kind == "alerting.escalate")
        ).scalars()
        assert list(timers) == ["cancelled"]


def test_a_burst_of_escalations_opens_one_incident_each_in_one_batch(
    alerts: Container, clock: ManualClock, smtp: SmtpSink
) -> None:
    ids = [_raise(alerts, pod=f"web-{n}") for n in range(25)]
    pump(alerts)
    alerts.alerting.acknowledge(alert_id=ids[7], actor=OPS, note="on it")
    clock.advance(timedelta(minutes=16))
    # All 24 level-3 steps are due at once: one claim, one set-wise firing, one commit.
    assert alerts.scheduler.run_due(limit=500, kinds=["alerting.escalate"]) == 24
    data = {i: alerts.alerting.queries.alert(i) for i in ids}
    assert (data[ids[7]].level, data[ids[7]].escalation.state) == (2, "acknowledged")
    escalated = [data[i] for i in ids if i != ids[7]]
    assert all(d.level == 3 for d in escalated)
    incidents = [d.escalation.incident_id for d in escalated]
    assert sorted(incidents) == [f"INC-2026-{n:04d}" for n in range(1, 25)]
    listed = {i.id: i for i in alerts.incidents.list()}
    assert set(listed) == set(incidents)
    assert all(listed[i].severity == "SEV-1" for i in incidents)
    actions = _actions(alerts)
    assert actions.count("alert.escalated") == 24
    assert actions.count("incident.opened") == 24
    assert actions.count("incident.informed") == 24  # SEV-1 informs everyone at once
    with alerts.db.reader() as session:
        armed = session.execute(
            sa.select(sa.func.count(sa.distinct(JobRow.key))).where(
                JobRow.kind == "incidents.deadline", JobRow.key.like("%:missed")
            )
        ).scalar_one()
    assert armed >= 24  # every incident's reaction-time deadline is on a timer
    # Firing again (a retry, a second instance) escalates nothing twice.
    clock.advance(timedelta(minutes=1))
    alerts.scheduler.run_due(limit=500, kinds=["alerting.escalate"])
    assert _actions(alerts).count("alert.escalated") == 24
    assert len(alerts.incidents.list()) == 24
    assert alerts.audit.verify().ok


def test_warning_notifies_devops_only_and_never_escalates(
    alerts: Container, clock: ManualClock, smtp: SmtpSink
) -> None:
    alert_id = _raise(alerts, severity="warning")
    pump(alerts)
    assert [m.recipients for m in smtp.wait_for(1)] == [["anna@example.org"]]
    later(clock, alerts, hours=1)
    assert alerts.alerting.queries.alert(alert_id).level == 1
    assert len(smtp.mails) == 1


def test_resolving_closes_the_escalation_and_tells_who_was_paged(
    alerts: Container, clock: ManualClock, smtp: SmtpSink
) -> None:
    alert_id = _raise(alerts)
    pump(alerts)
    with alerts.db.transaction() as session:
        ref = alerts.alerting.resolve_alert(
            session,
            actor=BACKUPS,
            name="HighErrorRate",
            severity="critical",
            service="portal",
        )
    assert ref is not None and ref.id == alert_id
    pump(alerts)
    later(clock, alerts, minutes=20)
    data = alerts.alerting.queries.alert(alert_id)
    assert (data.status, data.level, data.escalation.state) == (
        "resolved",
        2,
        "resolved",
    )
    assert any("Behoben" in m.subject for m in smtp.wait_for(4))
    assert alerts.incidents.list() == []


def _payload(fingerprint: str, status: str = "firing") -> bytes:
    alert = {
        "status": status,
        "labels": {"alertname": "Http5xxRate", "severity": "critical", "service": "portal"},
        "annotations": {"summary": "5xx"},
        "startsAt": "2026-11-27T08:59:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": fingerprint,
    }
    body = {"version": "4", "status": status, "receiver": "leitstand", "alerts": [alert]}
    return json.dumps(body).encode()


def test_same_alert_within_the_dedup_window_is_stored_once_and_notified_once(
    alerts: Container, clock: ManualClock, smtp: SmtpSink
) -> None:
    am = Actor(name="alertmanager", role="oncall")
    first = alerts.alerting.receive_alertmanager(parse_webhook(_payload("aa11")), actor=am)
    again = alerts.alerting.receive_alertmanager(parse_webhook(_payload("aa11")), actor=am)
    assert (first.new, again.new, again.duplicates) == (1, 0, 1)
    pump(alerts)
    assert len(smtp.wait_for(2)) == 2
    alerts.alerting.receive_alertmanager(parse_webhook(_payload("aa11", "resolved")), actor=am)
    clock.advance(__import__("datetime").timedelta(minutes=2))
    flap = alerts.alerting.receive_alertmanager(parse_webhook(_payload("aa11")), actor=am)
    assert flap.new == 1
    pump(alerts)
    with alerts.db.reader() as session:
        rows = session.execute(sa.select(AlertRow).order_by(AlertRow.id)).scalars().all()
        assert [(r.occurrences, r.deduplicated) for r in rows] == [(2, False), (1, True)]
        fired = session.execute(
            sa.select(NotificationRow).where(NotificationRow.purpose == "fired")
        ).scalars()
        assert {n.alert_id for n in fired} == {rows[0].id}
    assert sum("Alarm" in m.subject for m in smtp.mails) == 2  # level 2: anna + on-call
    assert _actions(alerts).count("alert.fired") == 2


def test_a_pending_escalation_survives_a_restart_and_fires_exactly_once(
    settings: Settings, clock: ManualClock, policy: Policy, smtp: SmtpSink
) -> None:
    first = build(settings, clock=clock, migrate=True, policy=policy)
    alert_id = _raise(first)
    pump(first)
    first.close()
    clock.advance(timedelta(minutes=16))
    for _ in range(2):
        again = build(settings, clock=clock, policy=policy)
        try:
            pump(again)
            assert again.alerting.queries.alert(alert_id).level == 3
            assert _actions(again).count("alert.escalated") == 1
            assert len(again.incidents.list()) == 1
        finally:
            again.close()


def test_other_domains_raise_alerts_in_their_own_transaction(alerts: Container) -> None:
    class Boom(Exception):
        pass

    try:
        with alerts.db.transaction() as session:
            alerts.alerting.raise_alert(
                session,
                name="BackupFailed",
                severity="critical",
                summary="restic failed",
                actor=BACKUPS,
            )
            raise Boom
    except Boom:
        pass
    assert alerts.alerting.queries.alert_list(status=None) == []
    assert "alert.fired" not in _actions(alerts)


def test_notify_reaches_everyone_holding_a_role(alerts: Container, smtp: SmtpSink) -> None:
    with alerts.db.transaction() as session:
        states = alerts.alerting.notify(
            session,
            roles=["compliance_officer"],
            subject="Backup-Test fehlgeschlagen",
            body="Bitte Meldepflicht prüfen.",
            channels=["email"],
            actor=BACKUPS,
        )
    assert states == {"email": "queued"}
    pump(alerts)
    mails = smtp.wait_for(1)
    assert [m.recipients for m in mails] == [["clara@example.org"]]
    assert mails[0].subject == "Backup-Test fehlgeschlagen"
    assert "notification.requested" in _actions(alerts)


def test_the_alert_time_is_the_clock_time(alerts: Container, clock: ManualClock) -> None:
    alert_id = _raise(alerts)
    assert alerts.alerting.queries.alert(alert_id).received_at == datetime(
        2026, 11, 27, 9, 0, tzinfo=UTC
    )
