"""The policy page names DORA's reports with the official terms of Delegated Regulation (EU)
2025/301 (Erstmeldung, Zwischenmeldung, Abschlussmeldung), not NIS2's "…bericht"."""

from __future__ import annotations

from leitstand.policy import default_policy, render_policy


def test_german_policy_page_uses_doras_official_report_names() -> None:
    md = render_policy(default_policy(), "md")
    assert "- Erstmeldung an BaFin innerhalb von 4h nach Einstufung" in md
    assert "- Zwischenmeldung innerhalb von 72h nach der Erstmeldung" in md
    assert "- Abschlussmeldung innerhalb von 1 Monat nach der letzten Zwischenmeldung" in md
    assert "Zwischenbericht" not in md
    assert "Abschlussbericht" not in md


def test_english_policy_page_uses_doras_english_report_names() -> None:
    md = render_policy(default_policy(), "md", "en")
    assert "- Initial notification to BaFin within 4h of classification" in md
    assert "- Intermediate report within 72h of the initial notification" in md
    assert "- Final report within 1 month of the latest intermediate report" in md
    assert "Zwischenmeldung" not in md
