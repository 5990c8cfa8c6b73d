"""The draft of the GDPR Art. 33 notification to the supervisory authority (pure).

Art. 33(3) names the minimum content: (a) the nature of the breach with categories and
approximate numbers of data subjects and records, (b) the data protection officer's contact,
(c) the likely consequences, (d) the measures taken or proposed. leitstand fills what the
incident knows (times, systems, impact, recovery measures) and marks the rest "auszufüllen";
"Meldung erfolgt" is stated only once the notification was recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from leitstand.incidents.schemas import IncidentOut
from leitstand.incidents.wording import fmt_datetime

__all__ = ["gdpr_markdown"]


def gdpr_markdown(
    incident: IncidentOut,
    *,
    due_at: datetime | None,
    measures: Sequence[str],
    tz: ZoneInfo,
    lang: str = "de",
) -> str:
    """The Art. 33 notification draft of ``incident`` as Markdown (German by default)."""
    de = lang != "en"

    def w(german: str, english: str) -> str:
        return german if de else english

    todo = w("_(auszufüllen)_", "_(to be completed)_")
    aware = incident.aware_at or incident.detected_at or incident.opened_at

    def when(value: datetime | None) -> str:
        return fmt_datetime(value, tz, lang) if value is not None else todo

    notified = (
        w("Ja, ", "Yes, ") + when(incident.gdpr_notified_at)
        if incident.gdpr_notified_at is not None
        else w("Nein, noch offen", "No, still open")
    )
    rows = [
        (w("Vorfall", "Incident"), f"{incident.id} – {incident.title}"),
        (w("Kenntnis der Verletzung", "Breach known since"), when(aware)),
        (w("Meldefrist (72 Stunden)", "Deadline (72 hours)"), when(due_at)),
        (w("Meldung erfolgt", "Notification made"), notified),
        (
            w(
                "a) Art der Verletzung, Kategorien und ungefähre Zahl der betroffenen Personen "
                "und Datensätze",
                "a) Nature of the breach, categories and approximate number of data subjects "
                "and records",
            ),
            (incident.description or incident.title) + "; " + todo,
        ),
        (
            w(
                "b) Name und Kontaktdaten des Datenschutzbeauftragten oder einer sonstigen "
                "Anlaufstelle",
                "b) Name and contact details of the data protection officer or other contact point",
            ),
            todo,
        ),
        (w("c) Wahrscheinliche Folgen", "c) Likely consequences"), incident.impact or todo),
        (
            w("d) Ergriffene oder vorgeschlagene Maßnahmen", "d) Measures taken or proposed"),
            "; ".join(measures) or todo,
        ),
        (w("Betroffene Systeme", "Affected systems"), ", ".join(incident.systems) or "-"),
    ]
    lines = [
        w(
            f"# DSGVO-Meldung (Art. 33) – {incident.id}",
            f"# GDPR notification (Art. 33) – {incident.id}",
        ),
        "",
        w(
            "Entwurf der Meldung von Verletzungen des Schutzes personenbezogener Daten an die "
            "Aufsichtsbehörde. Alle Angaben vor der Meldung prüfen.",
            "Draft of the notification of a personal data breach to the supervisory authority. "
            "Check every field before submitting.",
        ),
        "",
        "| " + w("Angabe", "Item") + " | " + w("Inhalt", "Content") + " |",
        "|---|---|",
    ]
    lines += [f"| {k} | {str(v).replace('|', '/').replace(chr(10), ' ')} |" for k, v in rows]
    lines.append("")
    return "\n".join(lines)
