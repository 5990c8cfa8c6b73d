"""The seed's escalation rule "security gate failing permanently", as an alert.

When the security stage of a service failed in ``gates.security_failing_runs`` recorded runs in a
row (runs that did not reach the stage do not count), the alert ``SecurityGateFailing``
(critical) fires in the run's transaction; the escalation rule ``security_gate_failing`` names
that alert, so the security engineer is informed (see leitstand.alerting.rule_notices). The
next run whose security stage passes resolves it. A further failing run is a repeat of the open
alert, not a new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leitstand.auth.model import Actor
from leitstand.db import Session
from leitstand.gates.model import Stage, Status
from leitstand.gates.store import recent_stages
from leitstand.policy.model import Policy

if TYPE_CHECKING:
    from leitstand.alerting.service import AlertingService

__all__ = ["SECURITY_ALERT", "security_gate_alert"]

SECURITY_ALERT = "SecurityGateFailing"
_LABELS = {"gate": Stage.SECURITY.value}


def security_gate_alert(
    session: Session,
    *,
    alerting: AlertingService,
    policy: Policy,
    service: str,
    actor: Actor,
) -> str | None:
    """Fire or resolve ``SecurityGateFailing`` for ``service`` after a recorded run; what it did
    ("fired", "resolved") or None."""
    runs = policy.gates.security_failing_runs
    verdicts: list[str] = []
    for stages in recent_stages(session, service=service, limit=runs * 5):
        verdict = stages.get(Stage.SECURITY.value)
        if verdict in (Status.PASS.value, Status.FAIL.value):
            verdicts.append(verdict)
        if len(verdicts) == runs:
            break
    if not verdicts:
        return None
    if verdicts[0] == Status.PASS.value:
        resolved = alerting.resolve_alert(
            session,
            actor=actor,
            name=SECURITY_ALERT,
            severity="critical",
            labels=_LABELS,
            service=service,
        )
        return "resolved" if resolved is not None else None
    if len(verdicts) < runs or any(v != Status.FAIL.value for v in verdicts):
        return None
    alerting.raise_alert(
        session,
        name=SECURITY_ALERT,
        severity="critical",
        summary=(
            f"Security-Gate von {service} in {runs} Läufen nacheinander fehlgeschlagen (dauerhaft)"
        ),
        labels=_LABELS,
        service=service,
        source="gates",
        actor=actor,
    )
    return "fired"
