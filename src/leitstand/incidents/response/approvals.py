"""Compliance-officer approval of fixes for SEV-1/2 incidents; the check release admission calls.

The seed: a fix for a SEV-1 or SEV-2 incident is deployed only after the compliance officer
approved it (policy ``incidents.severities.<S>.remediation_deploy_approvers``; empty: no approval
needed). A fix is any release of a system of an incident that is not closed; its approval names
the service and version and is evidence in the ledger (``incident.fix_approved`` /
``incident.fix_rejected`` on the incident, a namespace only this service writes; the newest
decision for a version counts). ``check_release`` is what release admission calls: it refuses a
release of such a system without an approval for exactly that version.
"""

from __future__ import annotations

from leitstand.auth.model import Actor
from leitstand.db import Session
from leitstand.errors import ConflictError, ForbiddenError, Issue, ValidationError
from leitstand.incidents import store
from leitstand.incidents.model import IncidentStatus
from leitstand.incidents.parts import IncidentPart
from leitstand.incidents.schemas import FixDecisionOut, FixOut
from leitstand.incidents.store import IncidentRow
from leitstand.ledger.service import EntryQuery

__all__ = ["DECISIONS", "FixApprovals", "FixNotApprovedError"]

DECISIONS = ("incident.fix_approved", "incident.fix_rejected")


class FixNotApprovedError(ConflictError):
    """A release is a fix for a SEV-1/2 incident that the compliance officer has not approved."""


class FixApprovals(IncidentPart):
    """Record approvals of fixes and check releases against them."""

    def approvers(self, row: IncidentRow) -> list[str]:
        severity = self.policy.incidents.severities.get(row.severity)
        return [r.value for r in severity.remediation_deploy_approvers] if severity else []

    def decide(
        self,
        incident_id: str,
        *,
        service: str,
        version: str,
        approve: bool,
        actor: Actor,
        note: str | None = None,
    ) -> FixDecisionOut:
        """Approve (or reject) the fix ``service`` ``version`` for the incident."""
        service, version = service.strip(), version.strip()
        if not service or not version:
            raise ValidationError([Issue("service" if not service else "version", "required")])
        with self.incidents.changing(incident_id) as (session, row):
            allowed = self.approvers(row)
            if not allowed:
                raise ConflictError(
                    f"fixes for {row.severity} incidents need no approval (policy "
                    f"incidents.severities.{row.severity}.remediation_deploy_approvers is empty)"
                )
            if actor.role not in allowed:
                raise ForbiddenError(
                    f"approving a fix for a {row.severity} incident needs the role "
                    f"{' or '.join(allowed)} (you are {actor.role})"
                )
            if row.status == IncidentStatus.CLOSED.value:
                raise ConflictError(f"incident {incident_id} is closed")
            systems = row.system_names
            if systems and service not in systems:
                raise ValidationError(
                    [Issue("service", f"one of the incident's systems {systems} (got {service!r})")]
                )
            verb_de, verb_en = ("freigegeben", "approved") if approve else ("abgelehnt", "rejected")
            self.ledger.record(
                session,
                actor,
                DECISIONS[0] if approve else DECISIONS[1],
                f"incident:{incident_id}",
                payload={
                    "service": service,
                    "version": version,
                    "note": note,
                    "label_de": f"Fix {service} {version} {verb_de} (Compliance-Freigabe)",
                    "label_en": f"Fix {service} {version} {verb_en} (compliance approval)",
                },
            )
            self.incidents.after_change(session, row, why="fix_approval")
        return FixDecisionOut(
            incident_id=incident_id,
            service=service,
            version=version,
            approved=approve,
            by=actor.name,
        )

    def decisions(self, session: Session, incident_id: str) -> list[FixOut]:
        """Every approval decision of the incident, oldest first."""
        found = []
        for action in DECISIONS:
            found += self.ledger.entries(
                session,
                EntryQuery(action=action, subject=f"incident:{incident_id}", limit=None),
            )
        found.sort(key=lambda e: e.index)
        return [
            FixOut(
                service=e.payload.get("service"),
                version=e.payload.get("version"),
                approved=e.action == DECISIONS[0],
                by=e.actor,
                role=e.role,
                at=e.time,
                note=e.payload.get("note"),
                ledger_index=e.index,
            )
            for e in found
        ]

    def list(self, incident_id: str) -> list[FixOut]:
        with self.db.reader() as session:
            self.incidents.load_row(session, incident_id)
            return self.decisions(session, incident_id)

    def check_release(self, session: Session, service: str, version: str) -> None:
        """Refuse a release of ``service`` ``version`` that is an unapproved fix (admission)."""
        rows = store.incidents.unclosed_incidents(session, closed=IncidentStatus.CLOSED.value)
        for row in rows:
            allowed = self.approvers(row)
            if not allowed or service not in row.system_names:
                continue
            latest = None
            for decision in self.decisions(session, row.id):
                same = (decision.service, decision.version) == (service, version)
                if same and decision.role in allowed:
                    latest = decision
            if latest is None or not latest.approved:
                state = "was rejected" if latest else "has no approval"
                raise FixNotApprovedError(
                    f"{service} {version} is a fix for the open {row.severity} incident {row.id} "
                    f"and {state} by the {' or '.join(allowed)}: "
                    f"`leitstand incident approve-fix {row.id} --service {service} "
                    f"--version {version}`"
                )
