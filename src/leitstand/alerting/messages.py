"""The text of alert notifications (German, the seed's language; pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["AlertText", "alert_message"]

_HEADLINE = {
    "fired": "Alarm",
    "escalated": "Eskaliert",
    "resolved": "Behoben",
}


@dataclass(frozen=True, slots=True)
class AlertText:
    """What a notification says about an alert."""

    alert_id: int
    name: str
    severity: str
    summary: str
    labels: Mapping[str, str]
    service: str | None
    tenant: str | None


def alert_message(
    alert: AlertText,
    *,
    purpose: str,
    level: int,
    level_name: str,
    ack_within: str | None = None,
    incident_id: str | None = None,
    base_url: str | None = None,
) -> tuple[str, str]:
    """Subject and body of a notification about ``alert``: paragraphs split by blank lines,
    links on lines of their own (the e-mail's HTML part makes them paragraphs and links)."""
    where = ", ".join(x for x in (alert.service, alert.tenant) if x)
    headline = _HEADLINE.get(purpose, purpose)
    subject = f"[leitstand] {headline} Stufe {level} ({level_name}): {alert.name}"
    if where:
        subject += f" – {where}"
    lines = [
        alert.summary or alert.name,
        "",
        f"Alert #{alert.alert_id} · {alert.name} · Severity {alert.severity} · Stufe {level}",
    ]
    if alert.service:
        lines.append(f"Service: {alert.service}")
    if alert.tenant:
        lines.append(f"Mandant: {alert.tenant}")
    shown = {k: v for k, v in sorted(alert.labels.items()) if k not in ("alertname", "severity")}
    if shown:
        lines.append("Labels: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    if incident_id:
        lines.append(f"Incident eröffnet: {incident_id}")
    if purpose != "resolved":
        ack = f"Bestätigen: leitstand alert ack {alert.alert_id}"
        if ack_within:
            ack += f" (innerhalb von {ack_within}, sonst Eskalation)"
        lines += ["", ack]
    if base_url:
        root = base_url.rstrip("/")
        lines.append("")
        if incident_id:
            lines.append(f"Incident {incident_id}: {root}/incidents/{incident_id}")
        lines.append(f"Alarme: {root}/alerts")
    return subject, "\n".join(lines)
