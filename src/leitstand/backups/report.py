"""The Testprotokoll of a recovery drill: JSON for machines, Markdown (German default) for people.

What, when, who, duration per phase, result and deviations, as the seed's recovery tests demand
("Testprotokoll + Dauer"; for disaster recovery the full DR report).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from leitstand.clock import BERLIN

__all__ = ["FORMAT", "render_markdown"]

FORMAT = "leitstand.testprotokoll/1"

_PHASES: Mapping[str, tuple[str, str]] = {
    "provision": ("Bereitstellung (eigener Ordner, Port, Archivierung aus)", "Provisioning"),
    "restore_files": ("Wiederherstellung der Dateien (restic)", "Files restore (restic)"),
    "restore_secrets": ("Wiederherstellung der Secrets (restic)", "Secrets restore (restic)"),
    "configuration": ("Konfiguration aus Git", "Configuration from git"),
    "restore_database": ("Wiederherstellung der Datenbank (pgBackRest)", "Database restore"),
    "recovery": ("WAL-Replay und Promote", "WAL replay and promotion"),
    "standby": ("Standby aufbauen (pg_basebackup, Streaming)", "Standby build (pg_basebackup)"),
    "promote": ("Promote bis beschreibbar", "Promotion to a writable primary"),
    "verify": ("Prüfung (Zeilen, Invarianten)", "Verification (rows, invariants)"),
    "checksums": ("Prüfsummen (pg_checksums)", "Checksums (pg_checksums)"),
    "cleanup": ("Aufräumen", "Clean-up"),
}

# key -> ((label de, label en), (detail de, detail en)); details are format strings of values.
_CHECKS: Mapping[str, tuple[tuple[str, str], tuple[str, str] | None]] = {
    "recovery_left": (
        ("Cluster startet und verlässt die Recovery", "Cluster starts and leaves recovery"),
        ("beschreibbar nach {seconds} s", "writable after {seconds} s"),
    ),
    "row_counts": (
        ("Zeilenzahlen", "Row counts"),
        ("{tables} Tabellen, {rows} Zeilen", "{tables} tables, {rows} rows"),
    ),
    "pitr_no_later_rows": (
        ("Keine Zeilen nach dem Zielzeitpunkt", "No rows after the target time"),
        ("{rows} Zeilen in {table} danach", "{rows} rows in {table} after it"),
    ),
    "pitr_rows": (
        ("Genau die Zeilen zum Zielzeitpunkt", "Exactly the rows at the target time"),
        (
            "{restored} wiederhergestellt, {source} in der Quelle bis zum Zielzeitpunkt ({table})",
            "{restored} restored, {source} in the source up to the target ({table})",
        ),
    ),
    "checksums": (
        ("pg_checksums auf der gestoppten Kopie", "pg_checksums on the stopped copy"),
        None,
    ),
    "consistency": (
        ("Datenbank und Dateien konsistent", "Database and files consistent"),
        ("{references} Dateiverweise geprüft", "{references} file references checked"),
    ),
    "standby_streaming": (("Standby empfängt WAL (Streaming)", "Standby streams WAL"), None),
    "promoted": (
        ("Standby zum beschreibbaren Primary befördert", "Standby promoted to a writable primary"),
        ("nach {seconds} s", "after {seconds} s"),
    ),
    "secrets_restored": (
        ("Secrets-Export entschlüsselt und gelesen", "Secrets export decrypted and read"),
        ("{files} Dateien (restic restore --verify)", "{files} files (restic restore --verify)"),
    ),
    "configuration_clone": (
        ("Konfiguration vollständig (Git-Klon, HEAD)", "Configuration complete (git clone, HEAD)"),
        ("Commit {commit}", "commit {commit}"),
    ),
    "error": (("Ablauf ohne Fehler", "Procedure without errors"), None),
    "rto": (
        ("Gesamtdauer innerhalb des RTO", "Total duration within the RTO"),
        ("{total} von {rto}", "{total} of {rto}"),
    ),
}

_DEVIATIONS: Mapping[str, tuple[str, str]] = {
    "checksums_disabled": (
        "Datenprüfsummen sind im Quell-Cluster nicht aktiviert (initdb --data-checksums)",
        "Data checksums are not enabled on the source cluster (initdb --data-checksums)",
    ),
    "rto_exceeded": ("RTO überschritten", "RTO exceeded"),
    "interrupted": ("Drill abgebrochen", "Drill interrupted"),
}

_WORDS: Mapping[str, tuple[str, str]] = {
    "title": ("Testprotokoll", "Test record"),
    "dr_title": ("DR-Bericht (Disaster Recovery, voll)", "DR report (full disaster recovery)"),
    "test": ("Test", "Test"),
    "frequency": ("Frequenz", "Frequency"),
    "system": ("System", "System"),
    "who": ("Durchgeführt von", "Performed by"),
    "trigger": ("Auslöser", "Trigger"),
    "start": ("Beginn", "Start"),
    "end": ("Ende", "End"),
    "target": ("Wiederherstellungsziel", "Recovery target"),
    "latest": ("neuester Stand", "latest state"),
    "source": ("Quelle", "Source"),
    "scratch": ("Ziel (isoliert)", "Target (segregated)"),
    "scratch_text": (
        "eigenes Datenverzeichnis, Port {port}, nur Unix-Socket, WAL-Archivierung aus",
        "own data directory, port {port}, Unix socket only, WAL archiving off",
    ),
    "result": ("Ergebnis", "Result"),
    "passed": ("BESTANDEN", "PASSED"),
    "failed": ("NICHT BESTANDEN", "FAILED"),
    "interrupted": ("ABGEBROCHEN", "INTERRUPTED"),
    "phases": ("Dauer je Phase", "Duration per phase"),
    "phase": ("Phase", "Phase"),
    "duration": ("Dauer", "Duration"),
    "total": ("Gesamt (gegen RTO)", "Total (against the RTO)"),
    "rto": ("RTO des Systems", "RTO of the system"),
    "met": ("eingehalten", "met"),
    "missed": ("überschritten", "exceeded"),
    "checks": ("Prüfungen", "Checks"),
    "check": ("Prüfung", "Check"),
    "outcome": ("Ergebnis", "Outcome"),
    "details": ("Details", "Details"),
    "ok": ("ok", "ok"),
    "bad": ("FEHLER", "FAILED"),
    "skipped": ("übersprungen", "skipped"),
    "deviations": ("Abweichungen", "Deviations"),
    "none": ("keine", "none"),
    "rows": ("Zeilenzahlen der wiederhergestellten Tabellen", "Row counts of the restored tables"),
    "table": ("Tabelle", "Table"),
    "count": ("Zeilen", "Rows"),
    "site": ("Standort", "Site"),
    "evidence": (
        "Dieses Protokoll ist als Eintrag im Nachweis-Ledger gespeichert.",
        "This record is stored as an entry of the evidence ledger.",
    ),
    "scratch_evidence": (
        "Demonstration: Cluster, Repositories, Schlüssel und der Nachweis-Ledger der "
        "Demonstration wurden wieder entfernt.",
        "Demonstration: clusters, repositories, keys and the demonstration's evidence ledger "
        "were removed again.",
    ),
    "cleanup": ("Aufgeräumt", "Cleaned up"),
    "yes": ("ja", "yes"),
    "no": ("nein", "no"),
}

_FREQUENCY = {
    "monthly": ("monatlich", "monthly"),
    "quarterly": ("quartalsweise", "quarterly"),
    "semi_annual": ("halbjährlich", "semi-annually"),
    "annual": ("jährlich", "annually"),
}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def _w(key: str, lang: str) -> str:
    return _pick(_WORDS[key], lang)


def _time(value: str | None, lang: str) -> str:
    if not value:
        return "–"
    when = datetime.fromisoformat(value).astimezone(BERLIN)
    fmt = "%Y-%m-%d %H:%M:%S" if lang == "en" else "%d.%m.%Y %H:%M:%S"
    return f"{when.strftime(fmt)} (Europe/Berlin)"


def seconds_text(value: float | None, lang: str = "de") -> str:
    """1.5 s, 2 min 3 s, 1 h 4 min; German decimal comma."""
    if value is None:
        return "–"
    if value < 60:
        text = f"{value:.2f} s"
        return text.replace(".", ",") if lang != "en" else text
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def check_label(name: str, lang: str) -> str:
    base, _, arg = name.partition(":")
    if base == "invariant":
        return ("Invariant" if lang == "en" else "Invariante") + f": {arg}"
    entry = _CHECKS.get(name)
    return _pick(entry[0], lang) if entry else name


def check_detail(check: Mapping[str, Any], lang: str) -> str:
    name = str(check.get("name", ""))
    values = dict(check.get("values") or {})
    entry = _CHECKS.get(name)
    if name == "consistency" and "references" in values:
        words = ("Dateiverweise geprüft", "fehlend", "Prüfsumme abweichend")
        if lang == "en":
            words = ("file references checked", "missing", "checksum differs")
        text = f"{values['references']} {words[0]}"
        for key, word in (("missing", words[1]), ("mismatched", words[2])):
            if values.get(key):
                text += f"; {word}: {values[key]}"
        return text
    if name.startswith("invariant:") and "value" in values:
        got = "Wert" if lang != "en" else "value"
        return f"{got} {values['value']} ({values.get('bounds', '')})"
    if lang != "en":
        values = {
            k: str(v).replace(".", ",") if isinstance(v, float) else v for k, v in values.items()
        }
    if entry is not None and entry[1] is not None and values:
        try:
            return _pick(entry[1], lang).format(**values)
        except (KeyError, IndexError):
            pass
    return str(check.get("detail", ""))


def _deviation(item: Mapping[str, Any], lang: str) -> str:
    key = str(item.get("key", ""))
    label = _pick(_DEVIATIONS[key], lang) if key in _DEVIATIONS else key
    detail = str(item.get("detail") or "")
    return f"{label}: {detail}" if detail else label


def render_markdown(protocol: Mapping[str, Any], lang: str = "de") -> str:
    """The Testprotokoll as Markdown, German unless ``lang`` is ``en``."""
    p = protocol
    test_name = p.get("test_name") or {}
    title = _w("dr_title" if p.get("kind") == "disaster-recovery" else "title", lang)
    system = p.get("system_name") or p.get("system")
    lines = [
        f"# {title} – {test_name.get(lang) or test_name.get('de') or p.get('kind')} – {system}",
        "",
    ]
    freq = _FREQUENCY.get(str(p.get("frequency")))
    result = str(p.get("result", "failed"))
    rows = [
        (_w("test", lang), f"{test_name.get(lang) or p.get('kind')} (`{p.get('kind')}`)"),
        (_w("frequency", lang), _pick(freq, lang) if freq else "–"),
        (_w("system", lang), f"{system} (`{p.get('system')}`)"),
        (_w("who", lang), f"{p['actor']['name']} ({p['actor']['role']})"),
        (_w("trigger", lang), str(p.get("trigger", ""))),
        (_w("start", lang), _time(p.get("started_at"), lang)),
        (_w("end", lang), _time(p.get("finished_at"), lang)),
        (
            _w("target", lang),
            _time(p.get("target_time"), lang) if p.get("target_time") else _w("latest", lang),
        ),
        (_w("site", lang), str(p.get("site_name") or p.get("site"))),
        (_w("source", lang), str(p.get("source") or "–")),
    ]
    scratch = p.get("scratch") or {}
    if scratch:
        rows.append(
            (_w("scratch", lang), _w("scratch_text", lang).format(port=scratch.get("port")))
        )
    rows.append((_w("result", lang), f"**{_w(result, lang)}**"))
    lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows] + [""]

    lines += [
        f"## {_w('phases', lang)}",
        "",
        f"| {_w('phase', lang)} | {_w('duration', lang)} |",
        "|---|---:|",
    ]
    for phase in p.get("phases", []):
        label = _pick(_PHASES[phase["name"]], lang) if phase["name"] in _PHASES else phase["name"]
        marker = "" if phase.get("counts_for_rto", True) else " ¹"
        lines.append(f"| {label}{marker} | {seconds_text(phase['seconds'], lang)} |")
    verdict = _w("met", lang) if p.get("within_rto") else _w("missed", lang)
    lines.append(f"| **{_w('total', lang)}** | **{seconds_text(p.get('total_seconds'), lang)}** |")
    lines.append(f"| {_w('rto', lang)} | {seconds_text(p.get('rto_seconds'), lang)} ({verdict}) |")
    if any(not ph.get("counts_for_rto", True) for ph in p.get("phases", [])):
        note = "¹ not counted against the RTO" if lang == "en" else "¹ zählt nicht gegen das RTO"
        lines += ["", note]
    lines.append("")

    lines += [
        f"## {_w('checks', lang)}",
        "",
        f"| {_w('check', lang)} | {_w('outcome', lang)} | {_w('details', lang)} |",
        "|---|---|---|",
    ]
    for check in p.get("checks", []):
        outcome = (
            _w("skipped", lang)
            if check.get("skipped")
            else _w("ok" if check.get("ok") else "bad", lang)
        )
        detail = check_detail(check, lang).replace("|", "\\|")
        lines.append(f"| {check_label(str(check['name']), lang)} | {outcome} | {detail} |")
    lines.append("")

    counts = p.get("row_counts") or {}
    if counts:
        lines += [
            f"## {_w('rows', lang)}",
            "",
            f"| {_w('table', lang)} | {_w('count', lang)} |",
            "|---|---:|",
        ]
        lines += [f"| {name} | {value} |" for name, value in list(counts.items())[:50]]
        lines.append("")

    lines += [f"## {_w('deviations', lang)}", ""]
    deviations = [_deviation(d, lang) for d in p.get("deviations", [])]
    failed = [c for c in p.get("checks", []) if not c.get("ok") and not c.get("skipped")]
    deviations += [f"{check_label(str(c['name']), lang)}: {check_detail(c, lang)}" for c in failed]
    lines += [f"- {d}" for d in deviations] or [f"- {_w('none', lang)}"]
    evidence = _w("scratch_evidence" if p.get("trigger") == "scratch" else "evidence", lang)
    cleaned = _w("yes" if p.get("cleaned_up") else "no", lang)
    lines += ["", f"{_w('cleanup', lang)}: {cleaned}. {evidence}", ""]
    return "\n".join(lines)
