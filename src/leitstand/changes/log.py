"""The Änderungsprotokoll (change log): a view of the evidence ledger, exported as Markdown or CSV.

Nothing here is stored separately: every row is a ledger entry (change records, their approvals,
quality-gate runs tied to a change, releases with their steps, deployments, rollbacks, the switches
of feature flags made for the change (``flags ... --change N``, one row per tenant) and the results
of the handover checklist), and each row names its ledger index, so an auditor can verify any line
against the signed ledger. The per-change summary
(what, why, who approved, when deployed, how to roll back, which tests) is derived from the same
entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from leitstand.clock import BERLIN
from leitstand.csvexport import to_csv as write_csv
from leitstand.db import Session
from leitstand.display import fmt_time
from leitstand.ledger.canonical import Entry
from leitstand.ledger.service import EntryQuery, Ledger

__all__ = [
    "CSV_COLUMNS",
    "ChangeSummary",
    "LogRow",
    "change_log",
    "summaries",
    "to_csv",
    "to_markdown",
]

CSV_COLUMNS = (
    "ledger_index", "time", "change_id", "service", "version", "env", "action", "actor", "role",
    "detail",
)  # fmt: skip

_EVENTS: dict[str, tuple[str, str]] = {
    "change.opened": ("Änderung erfasst", "change opened"),
    "change.approved": ("genehmigt", "approved"),
    "change.rejected": ("abgelehnt", "rejected"),
    "change.reviewed": ("nachträglich genehmigt", "approved retrospectively"),
    "change.review_overdue": (
        "nachträgliche Genehmigung überfällig",
        "retrospective review overdue",
    ),
    "change.deployed": ("deployed", "deployed"),
    "change.rolled_back": ("zurückgerollt", "rolled back"),
    "gate.run": ("Quality Gates", "quality gates"),
    "release.started": ("Release gestartet", "release started"),
    "release.approved": ("Release freigegeben", "release approved"),
    "release.refused": ("Release abgewiesen", "release refused"),
    "release.migrated": (
        "Datenbank migriert (Snapshot vorher)",
        "database migrated (snapshot first)",
    ),
    "release.healthy": ("Health-Checks bestanden", "health checks passed"),
    "release.weight_set": ("Canary-Gewicht gesetzt", "canary weight set"),
    "release.analysed": ("Canary-Analyse", "canary analysis"),
    "release.promoted": ("Canary manuell fortgesetzt", "canary promoted by hand"),
    "release.switched": ("Traffic umgeschaltet", "traffic switched"),
    "release.rollback_decided": ("Rollback entschieden", "rollback decided"),
    "release.traffic_restored": ("Traffic zurück auf vorherige Version", "traffic restored"),
    "release.verified": ("Verifikation (Health-Checks, Smoke-Tests)", "verification"),
    "release.completed": ("Release abgeschlossen", "release completed"),
    "release.failed": ("Release fehlgeschlagen", "release failed"),
    "release.rolled_back": ("Release zurückgerollt", "release rolled back"),
    "release.cancelled": ("Release abgebrochen", "release cancelled"),
    "release.abandoned": ("neue Version verworfen", "new version abandoned"),
    "release.task_opened": ("Folgeaufgabe angelegt", "follow-up task opened"),
    "release.task_done": ("Folgeaufgabe erledigt", "follow-up task done"),
    "release.task_overdue": ("Folgeaufgabe überfällig", "follow-up task overdue"),
    "release.snapshot_taken": ("Datenbank-Snapshot vor der Migration", "database snapshot"),
    "release.handover_checked": ("Übergabe-Checkliste geprüft", "handover checklist checked"),
    "flag.created": ("Feature-Flag angelegt", "feature flag created"),
    "flag.enabled": ("Feature-Flag eingeschaltet", "feature flag switched on"),
    "flag.disabled": ("Feature-Flag ausgeschaltet", "feature flag switched off"),
    "flag.killed": ("Kill-Switch gezogen", "kill switch pulled"),
    "flag.kill_released": ("Kill-Switch gelöst", "kill switch released"),
    "flag.tenants_changed": ("Feature-Flag für Mandanten geschaltet", "flag switched for tenants"),
    "flag.rollout_changed": ("Flag-Rollout geändert", "flag rollout changed"),
    "flag.targeting_changed": ("Flag-Targeting geändert", "flag targeting changed"),
}
#: Any other ``release.handover*`` entry (the handover checklist after a release) reads as this.
_HANDOVER = ("Übergabe-Checkliste", "handover checklist")
# Steps of a release that are evidence but not part of the story a reader of the log wants.
_QUIET = frozenset(
    {"release.instance_started", "release.router_error", "release.health_failed",
     "release.migration_check", "release.routing_reconciled"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LogRow:
    """One line of the change log: a ledger entry in words."""

    index: int
    time: str
    change_id: int | None
    service: str
    version: str
    env: str
    action: str
    event: str
    actor: str
    role: str
    detail: str


@dataclass
class ChangeSummary:
    """The seed's change documentation of one change, from its ledger entries."""

    change_id: int
    service: str = ""
    version: str = ""
    category: str = ""
    what: str = ""
    why: str = ""
    rollback: str = ""
    tests: str = ""
    approved_by: list[str] = field(default_factory=list)
    deployed: list[str] = field(default_factory=list)  # "production 27.11.2026 10:00"
    gate_runs: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    status: str = "pending"


def _change_id(entry: Entry) -> int | None:
    value = entry.payload.get("change_id")
    if isinstance(value, int):
        return value
    if entry.subject.startswith("change:"):
        tail = entry.subject.split(":", 1)[1]
        return int(tail) if tail.isdigit() else None
    return None


def _local(time: str, lang: str = "de") -> str:
    """``07.12.2026 14:05:00 MEZ``: a ledger time in Europe/Berlin, with its zone."""
    return fmt_time(time, lang, BERLIN, seconds=True, sep=" ")


def _flag_detail(entry: Entry, de: bool) -> str:
    p = entry.payload
    where = [", ".join(str(e) for e in p.get("environments") or [])]
    if entry.tenant:
        where.append(f"{'Mandant' if de else 'tenant'} {entry.tenant}")
    elif p.get("scope") == "all_tenants":
        where.append("alle Mandanten" if de else "all tenants")
    key = p.get("key") or entry.subject.removeprefix("flag:")
    text = f"{key} ({'; '.join(w for w in where if w)})"
    if p.get("reason"):
        text += f"; {'Grund' if de else 'reason'}: {p['reason']}"
    return text


def _detail(entry: Entry, lang: str) -> str:
    p = entry.payload
    de = lang != "en"
    action = entry.action
    if action.startswith("flag."):
        return _flag_detail(entry, de)
    if action == "change.opened":
        labels = (
            ("Was", "Warum", "Rollback", "Tests") if de else ("What", "Why", "Rollback", "Tests")
        )
        values = (p.get("what"), p.get("why"), p.get("rollback"), p.get("tests"))
        parts = [f"{k}: {v}" for k, v in zip(labels, values, strict=True) if v]
        return f"[{p.get('category', '')}] " + "; ".join(parts)
    if action in ("change.approved", "change.rejected", "change.reviewed"):
        return f"{entry.actor} ({entry.role}), {p.get('stage', '')}" + (
            f": {p['comment']}" if p.get("comment") else ""
        )
    if action == "change.deployed":
        return f"{p.get('env', '')}, Release #{p.get('release_id', '')}"
    if action in ("change.rolled_back", "release.rollback_decided"):
        how = "automatisch" if p.get("automatic") else "manuell"
        if not de:
            how = "automatic" if p.get("automatic") else "manual"
        return f"{how}: {p.get('reason', '')}"
    if action == "gate.run":
        stages = ", ".join(f"{k} {v}" for k, v in (p.get("stages") or {}).items())
        return f"{p.get('status', '')} ({stages})"
    if action == "release.analysed":
        return f"{p.get('percent')} %: {p.get('verdict')}: " + "; ".join(p.get("reasons") or [])
    if action == "release.weight_set":
        return f"{p.get('percent')} %"
    if action == "release.migrated":
        snap = p.get("snapshot") or {}
        return f"Snapshot {snap.get('file', '')} (sha256 {str(snap.get('sha256', ''))[:12]})"
    if action == "release.snapshot_taken":
        snap = p.get("snapshot") or {}
        where = snap.get("file") or f"backup #{snap.get('backup_run', '')}"
        return f"{snap.get('method', '')}: {where}"
    if action == "release.handover_checked":
        failed = p.get("failed") or []
        if not failed:
            return "alle Punkte erfüllt" if de else "all items passed"
        return ("offen: " if de else "failing: ") + ", ".join(failed)
    if action in ("release.traffic_restored", "release.switched") and (
        p.get("rollback_seconds") is not None
    ):
        return f"Rollback {p['rollback_seconds']:.3f} s (max {p.get('max_rollback_seconds')} s)"
    if action == "release.verified":
        failures = p.get("smoke_failures") or []
        return f"health {p.get('health')}; smoke {'ok' if not failures else ', '.join(failures)}"
    if action == "release.started":
        return f"{str(p.get('strategy', '')).replace('_', '-')}, {p.get('kind', '')}" + (
            f": {p['reason']}" if p.get("reason") else ""
        )
    for key in ("reason", "comment", "note", "task"):
        if p.get(key):
            return str(p[key])
    return ""


def _wanted(entry: Entry) -> bool:
    if entry.action == "gate.run" or entry.action.startswith("flag."):
        # Only gate runs and flag switches made for a change belong to the change log.
        return _change_id(entry) is not None
    return entry.action not in _QUIET


def change_log(
    ledger: Ledger,
    session: Session,
    *,
    service: str | None = None,
    change_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    lang: str = "de",
) -> list[LogRow]:
    """The change log, oldest first."""
    entries: list[Entry] = []
    for action in ("change.*", "release.*", "gate.run", "flag.*"):
        entries += ledger.entries(
            session,
            EntryQuery(action=action, since=since, until=until, limit=None, newest_first=False),
        )
    rows: list[LogRow] = []
    # Service and version of each change, for entries that only name the change (flag switches).
    opened = {
        cid: (str(e.payload.get("service") or ""), str(e.payload.get("version") or ""))
        for e in entries
        if e.action == "change.opened" and (cid := _change_id(e)) is not None
    }
    for entry in sorted(entries, key=lambda e: e.index):
        if not _wanted(entry):
            continue
        p = entry.payload
        cid = _change_id(entry)
        of_change = opened.get(cid, ("", "")) if cid is not None else ("", "")
        entry_service = str(p.get("service") or p.get("project") or of_change[0])
        if service and entry_service != service:
            continue
        if change_id is not None and cid != change_id:
            continue
        default = _HANDOVER if entry.action.startswith("release.handover") else None
        de, en = _EVENTS.get(entry.action) or default or (entry.action, entry.action)
        flag = entry.action.startswith("flag.")
        version = of_change[1] if flag else p.get("version")
        env = ", ".join(p.get("environments") or []) if flag else p.get("env")
        rows.append(
            LogRow(
                index=entry.index,
                time=entry.time,
                change_id=cid,
                service=entry_service,
                version=str(version or ""),
                env=str(env or ""),
                action=entry.action,
                event=en if lang == "en" else de,
                actor=entry.actor,
                role=entry.role,
                detail=_detail(entry, lang),
            )
        )
    return rows


def summaries(ledger: Ledger, session: Session, rows: Iterable[LogRow]) -> list[ChangeSummary]:
    """The seed's six facts per change named in ``rows`` (from all of its ledger entries)."""
    ids = sorted({r.change_id for r in rows if r.change_id is not None})
    found: list[ChangeSummary] = []
    for cid in ids:
        summary = ChangeSummary(change_id=cid)
        entries = ledger.entries(
            session, EntryQuery(subject=f"change:{cid}", limit=None, newest_first=False)
        )
        for entry in entries:
            p = entry.payload
            if entry.action == "change.opened":
                summary.service = str(p.get("service", ""))
                summary.version = str(p.get("version", ""))
                summary.category = str(p.get("category", ""))
                summary.what, summary.why = str(p.get("what", "")), str(p.get("why", ""))
                summary.rollback, summary.tests = (
                    str(p.get("rollback", "")),
                    str(p.get("tests", "")),
                )
            elif entry.action in ("change.approved", "change.reviewed"):
                summary.approved_by.append(f"{entry.actor} ({entry.role})")
                summary.status = "approved"
            elif entry.action == "change.rejected":
                summary.status = "rejected"
            elif entry.action == "change.deployed":
                summary.deployed.append(f"{p.get('env', '')} {_local(entry.time)}")
            elif entry.action == "change.rolled_back":
                summary.rolled_back.append(f"{_local(entry.time)}: {p.get('reason', '')}")
        found.append(summary)
    return found


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


_WORDS: dict[str, dict[str, str]] = {
    "de": {
        "title": "Änderungsprotokoll",
        "period": "Zeitraum",
        "all": "gesamt",
        "changes": "Änderungen",
        "history": "Verlauf",
        "source": "Quelle: Nachweis-Ledger (jede Zeile nennt ihren Ledger-Index; prüfbar mit "
        "`leitstand audit verify`).",
        "none": "Keine Einträge.",
    },
    "en": {
        "title": "Change log",
        "period": "Period",
        "all": "all",
        "changes": "Changes",
        "history": "History",
        "source": "Source: evidence ledger (every row names its ledger index; verify with "
        "`leitstand audit verify`).",
        "none": "No entries.",
    },
}
_SUMMARY_HEAD: dict[str, tuple[str, ...]] = {
    "de": (
        "Nr.", "System", "Version", "Kategorie", "Was (technisch)", "Warum", "Genehmigt von",
        "Deployed", "Rollback-Plan", "Tests", "Zurückgerollt",
    ),
    "en": (
        "No.", "System", "Version", "Category", "What (technical)", "Why", "Approved by",
        "Deployed", "Rollback plan", "Tests", "Rolled back",
    ),
}  # fmt: skip
_HISTORY_HEAD: dict[str, tuple[str, ...]] = {
    "de": (
        "Zeit", "Änderung", "System", "Version", "Umgebung", "Ereignis", "Akteur", "Details",
        "Ledger-Index",
    ),
    "en": (
        "Time", "Change", "System", "Version", "Environment", "Event", "Actor", "Details",
        "Ledger index",
    ),
}  # fmt: skip


def _table(head: tuple[str, ...], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def to_markdown(
    rows: list[LogRow],
    changes: list[ChangeSummary],
    *,
    lang: str = "de",
    since: datetime | None = None,
    until: datetime | None = None,
) -> str:
    """The change log as a Markdown document (German by default)."""
    key = "en" if lang == "en" else "de"
    t = _WORDS[key]
    start = fmt_time(since, key, BERLIN, sep=" ") if since else "…"
    end = fmt_time(until, key, BERLIN, sep=" ") if until else "…"
    period = t["all"] if not since and not until else f"{start} – {end}"
    lines = [f"# {t['title']}", "", f"{t['period']}: {period}", "", t["source"], ""]
    lines += [f"## {t['changes']}", ""]
    if changes:
        lines += _table(
            _SUMMARY_HEAD[key],
            [
                [
                    f"#{c.change_id}", c.service, c.version, c.category, c.what, c.why,
                    ", ".join(c.approved_by) or "–", ", ".join(c.deployed) or "–", c.rollback,
                    c.tests, "; ".join(c.rolled_back) or "–",
                ]
                for c in changes
            ],
        )  # fmt: skip
    else:
        lines.append(t["none"])
    lines += ["", f"## {t['history']}", ""]
    if rows:
        lines += _table(
            _HISTORY_HEAD[key],
            [
                [
                    _local(r.time, key), f"#{r.change_id}" if r.change_id else "–", r.service,
                    r.version, r.env, r.event, f"{r.actor} ({r.role})", r.detail, r.index,
                ]
                for r in rows
            ],
        )  # fmt: skip
    else:
        lines.append(t["none"])
    return "\n".join(lines) + "\n"


def to_csv(rows: list[LogRow]) -> str:
    """The change log as CSV (stable English column names, times in UTC)."""
    return write_csv(
        CSV_COLUMNS,
        (
            [r.index, r.time, r.change_id if r.change_id is not None else "", r.service,
             r.version, r.env, r.action, r.actor, r.role, r.detail]
            for r in rows
        ),
    )  # fmt: skip
