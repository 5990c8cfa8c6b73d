"""Notices to affected broker houses at SEV-1/2, and the compliance officer at follow-up.

The seed: at SEV-1 and SEV-2 the affected broker houses (tenants) are informed (policy
``incidents.severities.<S>.notify_affected_tenants``). leitstand drafts one German notice per
affected tenant from the incident's facts; nothing leaves before a person in a releasing role
(``incidents.response.tenant_notice_releasers``) released it. Released, it goes through the
notification outbox (apprise, e-mail to the tenant's ``contact``) and is evidence
(``incident.tenant_notified`` with the text's SHA-256). When an incident reaches follow-up, the
roles of ``incidents.postmortem.reporting_check_by`` (seed: the compliance officer) are informed
for the reporting check, once (``incident.informed``, rule ``follow_up``).
"""

from __future__ import annotations

import hashlib
import json

from leitstand.alerting.model import Recipient
from leitstand.alerting.outbox import Notice, Outbox
from leitstand.auth.model import Actor
from leitstand.db import Session
from leitstand.errors import ConflictError, ForbiddenError, Issue, ValidationError
from leitstand.incidents.model import IncidentStatus, Phase
from leitstand.incidents.parts import IncidentFacade, IncidentPart
from leitstand.incidents.schemas import NoticeDraftOut, NoticeOut, NoticeSentOut, ReleasedOut
from leitstand.incidents.store import IncidentRow
from leitstand.incidents.wording import TERMS, fmt_datetime, term
from leitstand.ledger.service import EntryQuery

__all__ = ["FOLLOW_UP_RULE", "TenantNotices"]

FOLLOW_UP_RULE = "follow_up"
NOTIFIED = "incident.tenant_notified"
ACTOR = Actor(name="leitstand:incidents", role="system")


class TenantNotices(IncidentPart):
    """Draft, release and send the notices to affected tenants; inform at follow-up."""

    def __init__(self, incidents: IncidentFacade, *, outbox: Outbox | None = None) -> None:
        super().__init__(incidents)
        self.outbox = outbox

    def _due(self, row: IncidentRow) -> bool:
        severity = self.policy.incidents.severities.get(row.severity)
        return bool(severity and severity.notify_affected_tenants)

    def _draft(self, row: IncidentRow, tenant: str) -> NoticeOut:
        configured = self.policy.tenants.get(tenant)
        name = configured.name if configured else tenant
        tz = self.incidents.clocks.calendar.tz
        since = row.detected_at or row.opened_at
        systems = ", ".join(row.system_names) or "-"
        phase = term(TERMS, row.phase, "de")
        subject = f"Störungsmeldung {row.id}: {row.title}"
        body = "\n".join(
            [
                "Sehr geehrte Damen und Herren,",
                "",
                f"wir informieren Sie über eine Störung ({row.severity}), die Ihr Haus "
                f"({name}) betrifft.",
                "",
                f"Vorfall: {row.id} – {row.title}",
                f"Festgestellt: {fmt_datetime(since, tz, 'de')}",
                f"Betroffene Systeme: {systems}",
                f"Aktueller Stand: {phase}",
                "",
                "Wir arbeiten mit hoher Priorität an der Behebung und informieren Sie über "
                "wesentliche Änderungen und den Abschluss.",
                "Bitte prüfen Sie, ob der Vorfall für Sie nach DORA meldepflichtig ist; die "
                "dafür nötigen Angaben stellen wir Ihnen auf Anfrage zur Verfügung.",
                "",
                "Mit freundlichen Grüßen",
                "Ihr Betriebsteam",
            ]
        )
        return NoticeOut(
            tenant=tenant,
            name=name,
            to=configured.contact if configured else None,
            subject=subject,
            body=body,
        )

    def drafts(self, incident_id: str) -> list[NoticeDraftOut]:
        """One draft per affected tenant (none below the severity that informs tenants)."""
        with self.db.reader() as session:
            row = self.incidents.load_row(session, incident_id)
            if not self._due(row):
                return []
            sent = self._released(session, incident_id)
            return [
                NoticeDraftOut(**self._draft(row, t).model_dump(), released=sent.get(t))
                for t in json.loads(row.tenants or "[]")
            ]

    def _released(self, session: Session, incident_id: str) -> dict[str, ReleasedOut]:
        entries = self.ledger.entries(
            session, EntryQuery(action=NOTIFIED, subject=f"incident:{incident_id}", limit=None)
        )
        return {
            str(e.tenant): ReleasedOut(at=e.time, by=e.actor, role=e.role)
            for e in entries
            if e.tenant
        }

    def release(self, incident_id: str, tenant: str, *, actor: Actor) -> NoticeSentOut:
        """Release the tenant's notice: it is queued for sending and recorded."""
        allowed = [r.value for r in self.policy.incidents.response.tenant_notice_releasers]
        if actor.role not in allowed:
            raise ForbiddenError(
                f"releasing a notice to a broker house needs the role {' or '.join(allowed)} "
                f"(you are {actor.role})"
            )
        with self.incidents.changing(incident_id) as (session, row):
            if not self._due(row):
                raise ConflictError(f"{row.severity} incidents do not inform the tenants")
            if row.status == IncidentStatus.CLOSED.value:
                raise ConflictError(f"incident {incident_id} is closed")
            tenants: list[str] = json.loads(row.tenants or "[]")
            if tenant not in tenants:
                raise ValidationError(
                    [Issue("tenant", f"one of the incident's tenants {tenants} (got {tenant!r})")]
                )
            done = self._released(session, incident_id).get(tenant)
            if done is not None:
                raise ConflictError(f"the notice to {tenant} was already released at {done.at}")
            draft = self._draft(row, tenant)
            if not draft.to:
                raise ConflictError(f"tenant {tenant} has no contact address (policy tenants)")
            if self.outbox is None:
                raise ConflictError("no notification outbox is wired")
            states = self.outbox.enqueue_many(
                session,
                [
                    Notice(
                        alert_id=None,
                        purpose="tenant_notice",
                        level=None,
                        channels=("email",),
                        roles=(),
                        recipients=(Recipient(f"tenant:{tenant}", draft.name, draft.to, "tenant"),),
                        subject=draft.subject,
                        body=draft.body,
                        tenant=tenant,
                    )
                ],
            )
            self.ledger.record(
                session,
                actor,
                NOTIFIED,
                f"incident:{incident_id}",
                tenant=tenant,
                payload={
                    "subject": draft.subject,
                    "sha256": hashlib.sha256(draft.body.encode()).hexdigest(),
                    "channels": states[0],
                    "label_de": f"Mandant {tenant} über die Störung informiert",
                    "label_en": f"Tenant {tenant} informed of the incident",
                },
            )
            return NoticeSentOut(**draft.model_dump(), channels=states[0])

    def on_change(self, session: Session, rows: list[IncidentRow], why: str) -> None:
        """At follow-up: inform the reporting check's roles once per incident."""
        roles = [r.value for r in self.policy.incidents.postmortem.reporting_check_by]
        for row in rows:
            informed: list[str] = json.loads(row.informed or "[]")
            if row.phase != Phase.FOLLOW_UP.value or FOLLOW_UP_RULE in informed or not roles:
                continue
            shown_de = ", ".join(term(TERMS, r, "de") for r in roles)
            shown_en = ", ".join(term(TERMS, r, "en") for r in roles)
            informed.append(FOLLOW_UP_RULE)
            row.informed = json.dumps(informed)
            self.incidents.clocks.alerts.notify(
                session,
                roles=roles,
                subject=f"[leitstand] Nachbereitung {row.id}: Meldepflicht prüfen",
                body=(
                    f"{row.id} · {row.severity} · {row.title}\n\n"
                    "Der Vorfall ist in der Nachbereitung. Bitte die Meldepflicht (DORA, DSGVO) "
                    "prüfen; das Post-Mortem ist innerhalb der Frist zu erstellen.\n\n"
                    f"Details: leitstand incident show {row.id}"
                ),
                actor=ACTOR,
            )
            self.ledger.record(
                session,
                ACTOR,
                "incident.informed",
                f"incident:{row.id}",
                payload={
                    "rule": FOLLOW_UP_RULE,
                    "roles": roles,
                    "why": why,
                    "label_de": f"Nachbereitung: {shown_de} zur Meldepflicht-Prüfung informiert",
                    "label_en": f"Follow-up: {shown_en} informed for the reporting check",
                },
            )
