"""Notifications: retries with backoff, channels independent, attempts recorded, no secrets."""

from __future__ import annotations

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.ledger.service import EntryQuery
from leitstand.testing import ManualClock
from leitstand.testing.mail import Mail, SmtpSink, WebhookSink

from .conftest import later, pump

SYSTEM = Actor(name="leitstand:test", role="system")


def _notify(container: Container) -> None:
    with container.db.transaction() as session:
        container.alerting.notify(
            session,
            roles=["devops"],
            subject="Test",
            body="Body",
            channels=["email", "pager"],
            actor=SYSTEM,
        )


def test_a_failing_channel_is_retried_with_backoff_and_never_blocks_the_others(
    alerts: Container, clock: ManualClock, smtp: SmtpSink, hook: WebhookSink
) -> None:
    hook.fail(2)
    _notify(alerts)
    pump(alerts)
    assert len(smtp.wait_for(1)) == 1  # e-mail went out although the webhook failed
    pager = next(n for n in alerts.alerting.queries.notification_list() if n.channel == "pager")
    assert [a.outcome for a in pager.attempts] == ["failed"]
    later(clock, alerts, seconds=29)
    assert len(hook.bodies) == 0
    later(clock, alerts, seconds=2)  # 30 s after the first attempt
    later(clock, alerts, seconds=61)  # then 60 s
    pager = next(n for n in alerts.alerting.queries.notification_list() if n.channel == "pager")
    assert [a.outcome for a in pager.attempts] == ["failed", "failed", "sent"]
    assert pager.status == "sent" and len(hook.bodies) == 1
    with alerts.db.reader() as session:
        attempts = alerts.ledger.entries(session, EntryQuery(action="notification.attempted"))
    assert len(attempts) == 4  # e-mail once, pager three times


def test_an_unconfigured_channel_is_skipped_with_the_reason(
    alerts: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEITSTAND_PAGER_WEBHOOK_URL")
    with alerts.db.transaction() as session:
        states = alerts.alerting.notify(
            session, roles=["devops"], subject="s", body="b", channels=["pager"], actor=SYSTEM
        )
    assert states == {
        "pager": "skipped: environment variable LEITSTAND_PAGER_WEBHOOK_URL is not set"
    }


def test_webhook_urls_with_tokens_never_reach_the_store_or_the_ledger(
    alerts: Container, hook: WebhookSink
) -> None:
    _notify(alerts)
    pump(alerts)
    with alerts.db.engine.connect() as conn:
        dump = "\n".join(
            str(row) for row in conn.exec_driver_sql("SELECT * FROM alert_notifications")
        )
        dump += "\n".join(
            str(row) for row in conn.exec_driver_sql("SELECT body FROM ledger_entries")
        )
    assert "chat-token-123" not in dump
    assert hook.url not in dump


def _parts(mail: Mail) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in mail.message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            text = payload.decode(part.get_content_charset() or "utf-8")
            found[part.get_content_type()] = text.replace("\r\n", "\n")
    return found


def test_mails_keep_their_lines_and_paragraphs_and_link_the_incident(
    alerts: Container, clock: ManualClock, smtp: SmtpSink
) -> None:
    with alerts.db.transaction() as session:
        alerts.alerting.raise_alert(
            session,
            name="HighErrorRate",
            severity="critical",
            summary="5xx rate over 5% <portal>",
            service="portal",
            tenant="example-makler-nord",
            actor=SYSTEM,
        )
    pump(alerts)
    fired = smtp.wait_for(2)[0]
    parts = _parts(fired)
    assert fired.message.get_content_type() == "multipart/alternative"
    plain = parts["text/plain"].splitlines()
    assert plain[:3] == ["5xx rate over 5% <portal>", "", plain[2]]
    assert plain[2].startswith("Alert #1 · HighErrorRate · Severity critical · Stufe 2")
    assert "Service: portal" in plain and "Mandant: example-makler-nord" in plain
    html = parts["text/html"]
    assert html.startswith("<p>5xx rate over 5% &lt;portal&gt;</p>\n<p>Alert #1")
    assert "<br/>Service: portal<br/>Mandant: example-makler-nord" in html
    assert '<a href="http://127.0.0.1:8080/alerts">http://127.0.0.1:8080/alerts</a>' in html

    later(clock, alerts, minutes=15, seconds=1)  # level 3 opens the incident
    mails = smtp.wait_for(3)
    escalated = next(m for m in mails[2:] if "Eskaliert" in m.subject)
    parts = _parts(escalated)
    link = "http://127.0.0.1:8080/incidents/INC-2026-0001"
    assert f"Incident INC-2026-0001: {link}" in parts["text/plain"].splitlines()
    assert f'<a href="{link}">{link}</a>' in parts["text/html"]
    assert parts["text/html"].count("<p>") >= 3
