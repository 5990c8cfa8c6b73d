"""The Testprotokoll: German by default, English on request, deviations listed."""

from __future__ import annotations

from typing import Any

from leitstand.backups.report import render_markdown, seconds_text


def _protocol(**changes: Any) -> dict[str, Any]:
    protocol: dict[str, Any] = {
        "kind": "pitr",
        "test_name": {"de": "Point-in-Time-Recovery", "en": "Point-in-time recovery"},
        "frequency": "quarterly",
        "system": "enterprise-api",
        "system_name": "Enterprise API",
        "site": "primary",
        "site_name": "Primäres RZ",
        "actor": {"name": "anna", "role": "devops"},
        "trigger": "manual",
        "started_at": "2026-11-27T09:00:00+00:00",
        "finished_at": "2026-11-27T09:38:00+00:00",
        "target_time": "2026-11-27T06:00:00+00:00",
        "source": "20261127-020001F",
        "scratch": {"port": 54329},
        "phases": [
            {"name": "provision", "seconds": 0.5, "counts_for_rto": True},
            {"name": "restore_database", "seconds": 1500.0, "counts_for_rto": True},
            {"name": "recovery", "seconds": 780.25, "counts_for_rto": True},
            {"name": "cleanup", "seconds": 2.0, "counts_for_rto": False},
        ],
        "total_seconds": 2280.75,
        "rto_seconds": 7200.0,
        "within_rto": True,
        "checks": [
            {"name": "recovery_left", "ok": True, "values": {"seconds": 1.25}},
            {
                "name": "pitr_rows",
                "ok": True,
                "values": {"restored": 1850, "source": 1850, "table": "audit"},
            },
            {"name": "invariant:orders", "ok": True, "values": {"value": 3, "bounds": ">= 1"}},
        ],
        "row_counts": {"public.audit": 1850},
        "deviations": [],
        "result": "passed",
        "cleaned_up": True,
    }
    protocol.update(changes)
    return protocol


def test_the_testprotokoll_is_german_by_default() -> None:
    md = render_markdown(_protocol())
    assert md.startswith("# Testprotokoll – Point-in-Time-Recovery – Enterprise API")
    assert "| Durchgeführt von | anna (devops) |" in md
    assert "| Beginn | 27.11.2026 10:00:00 (Europe/Berlin) |" in md
    assert "| Wiederherstellungsziel | 27.11.2026 07:00:00 (Europe/Berlin) |" in md
    assert "| Frequenz | quartalsweise |" in md
    assert "| Ergebnis | **BESTANDEN** |" in md
    assert "| Wiederherstellung der Datenbank (pgBackRest) | 25 min |" in md
    assert "| **Gesamt (gegen RTO)** | **38 min 1 s** |" in md
    assert "| RTO des Systems | 2 h (eingehalten) |" in md
    assert "| Aufräumen ¹ | 2,00 s |" in md
    assert "beschreibbar nach 1,25 s" in md
    assert "1850 wiederhergestellt, 1850 in der Quelle" in md
    assert "| Invariante: orders | ok | Wert 3 (>= 1) |" in md
    assert "## Abweichungen\n\n- keine" in md


def test_the_testprotokoll_in_english() -> None:
    md = render_markdown(_protocol(), "en")
    assert md.startswith("# Test record – Point-in-time recovery – Enterprise API")
    assert "| Result | **PASSED** |" in md
    assert "writable after 1.25 s" in md
    assert "## Deviations\n\n- none" in md


def test_a_failed_drill_lists_its_deviations() -> None:
    md = render_markdown(
        _protocol(
            result="failed",
            within_rto=False,
            checks=[
                {
                    "name": "consistency",
                    "ok": False,
                    "values": {"references": 3, "missing": "a.pdf"},
                }
            ],
            deviations=[{"key": "rto_exceeded", "detail": "9000.0 s > 7200 s"}],
        )
    )
    assert "| Ergebnis | **NICHT BESTANDEN** |" in md
    assert "(überschritten)" in md
    assert "- RTO überschritten: 9000.0 s > 7200 s" in md
    assert "- Datenbank und Dateien konsistent: 3 Dateiverweise geprüft; fehlend: a.pdf" in md


def test_the_disaster_recovery_drill_files_a_full_dr_report() -> None:
    md = render_markdown(
        _protocol(
            kind="disaster-recovery",
            test_name={"de": "Disaster Recovery (voll)", "en": "Disaster recovery (full)"},
        )
    )
    assert md.startswith("# DR-Bericht (Disaster Recovery, voll)")


def test_durations_read_like_the_seed() -> None:
    assert seconds_text(4.4) == "4,40 s"
    assert seconds_text(4.4, "en") == "4.40 s"
    assert seconds_text(3 * 3600 + 120) == "3 h 2 min"
    assert seconds_text(None) == "–"
