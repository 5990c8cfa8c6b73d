"""The incident timeline (pure): which ledger entries belong to an incident, and how they read.

``SOURCES`` is the whole mapping from ledger actions to timeline entries, matched by the
longest action prefix. A domain that records ``release.*``, ``backups.*`` or ``change.*`` entries
appears on timelines without code here; a new source is one row. Entries are kept when they fall
into the incident's window and touch its systems and tenants (an entry naming no system or no
tenant touches all), plus everything recorded about the incident itself or its alerts.

Only system evidence is read: every source prefix is a reserved system namespace, which only its
owning service writes (the manual route records ``manual.*`` and is refused a system namespace),
so the timeline shows the incident's own events and its services' events, never manual entries.
"""

# ruff: noqa: E501 - the data tables below read best one row per line
from __future__ import annotations

import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leitstand.display import fmt_subject
from leitstand.ledger.canonical import Entry
from leitstand.ledger.ownership import SYSTEM_NAMESPACES, is_manual, namespace_of

__all__ = [
    "SOURCES",
    "Scope",
    "Source",
    "TimelineEntry",
    "assemble",
    "prefixes",
    "routine_step",
    "system_written",
]


@dataclass(frozen=True, slots=True)
class Source:
    """How entries whose action starts with ``prefix`` appear on a timeline.

    ``de``/``en`` are ``str.format`` templates over the entry's payload plus ``action``,
    ``subject`` (as people read it: ``change:2`` is "Änderung 2" / "Change 2") and ``tenant``;
    missing fields render empty. ``unscoped`` keeps entries that name neither a system nor a
    tenant (a global flag switch concerns every tenant).
    """

    prefix: str
    kind: str
    de: str
    en: str
    unscoped: bool = True


SOURCES: tuple[Source, ...] = (
    Source("alert.fired", "alert", "Alarm {name} ({severity}): {summary}", "Alert {name} ({severity}): {summary}"),
    Source("alert.escalated", "escalation", "Eskalation {subject} auf Stufe {to_level}", "Escalation of {subject} to level {to_level}"),
    Source("alert.acknowledged", "alert", "{subject} bestätigt", "{subject} acknowledged"),
    Source("alert.resolved", "alert", "Alarm {name} behoben", "Alert {name} resolved"),
    Source("alert.", "alert", "{action} {subject}", "{action} {subject}"),
    Source("release.rollback", "rollback", "Rollback {service} {version} ({action})", "Rollback {service} {version} ({action})"),
    Source("release.traffic_restored", "rollback", "Traffic zurück auf {service} (Rollback)", "Traffic restored for {service} (rollback)"),
    Source("release.", "release", "Release {service} {version} {env}: {action}", "Release {service} {version} {env}: {action}"),
    Source("change.rolled_back", "rollback", "{subject} zurückgerollt", "{subject} rolled back"),
    Source("change.", "change", "{subject}: {action}", "{subject}: {action}"),
    Source("flag.", "flag", "Feature-Flag {key}: {action}", "Feature flag {key}: {action}"),
    Source("backups.", "backup", "Backup: {action} {subject}", "Backup: {action} {subject}", unscoped=False),
    Source("gameday.", "gameday", "Game Day: {action} {subject}", "Game day: {action} {subject}", unscoped=False),
    Source("incident.note_added", "note", "Notiz: {text}", "Note: {text}"),
    Source("incident.", "incident", "{label_de}", "{label_en}"),
)  # fmt: skip

#: Payload keys naming the system an entry concerns, in order of preference.
SYSTEM_KEYS = ("service", "system")

#: The steps of a release that matter to an incident's story: the start, the moment traffic
#: moved, promote/abort decisions and failures (rollback entries are kind ``rollback``). Every
#: other step (approval, migration, instance start, health passes, canary weights, snapshots,
#: handover, tasks, completion) is routine: it stays on the timeline, documents leave it out.
DECISIVE_RELEASE_STEPS = frozenset(
    {
        "release.started",
        "release.switched",
        "release.promoted",
        "release.rolled_back",
        "release.failed",
        "release.health_failed",
        "release.refused",
        "release.cancelled",
        "release.abandoned",
        "release.router_error",
    }
)


def routine_step(action: str, payload: Mapping[str, Any]) -> bool:
    """Whether a release step (an entry of kind ``release``) is routine, not part of the story.

    A canary analysis matters only when it did not pass (``fail``, ``inconclusive``).
    """
    if not action.startswith("release."):
        return False
    if action == "release.analysed":
        return payload.get("verdict") == "pass"
    return action not in DECISIVE_RELEASE_STEPS


def prefixes(sources: Iterable[Source] = SOURCES) -> list[str]:
    """The distinct action prefixes to query (the incident's own entries come by subject)."""
    found: list[str] = []
    for source in sources:
        if not any(source.prefix.startswith(p) for p in found):
            found = [p for p in found if not p.startswith(source.prefix)] + [source.prefix]
    return found


@dataclass(frozen=True, slots=True)
class Scope:
    """What belongs to one incident."""

    incident_id: str
    since: datetime
    until: datetime
    systems: frozenset[str]
    tenants: frozenset[str]
    alert_ids: frozenset[int]
    #: Duplicates merged into this incident: their own entries are this incident's too.
    merged: frozenset[str] = frozenset()

    def owns(self, subject: str) -> bool:
        return (
            subject == f"incident:{self.incident_id}"
            or subject.removeprefix("incident:") in self.merged
        )


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    time: str
    kind: str
    action: str
    text_de: str
    text_en: str
    actor: str
    role: str
    subject: str
    tenant: str | None
    system: str | None
    ledger_index: int
    #: A routine release step (``routine_step``): documents leave it out.
    routine: bool = False

    def text(self, lang: str = "de") -> str:
        return self.text_en if lang == "en" else self.text_de


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


_FORMATTER = string.Formatter()


def _render(template: str, values: Mapping[str, Any]) -> str:
    try:
        text = _FORMATTER.vformat(template, (), _Blank(values))
    except (ValueError, IndexError, AttributeError, KeyError):
        text = template
    return " ".join(text.split())


def _source(action: str, sources: Sequence[Source]) -> Source | None:
    best: Source | None = None
    for source in sources:
        if action.startswith(source.prefix) and (
            best is None or len(source.prefix) > len(best.prefix)
        ):
            best = source
    return best


def _system(payload: Mapping[str, Any]) -> str | None:
    for key in SYSTEM_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _own(entry: Entry, scope: Scope) -> bool:
    payload = entry.payload
    if scope.owns(entry.subject):
        return True
    if (
        payload.get("incident_id") == scope.incident_id
        or payload.get("incident_id") in scope.merged
    ):
        return True
    alert_id = payload.get("alert_id")
    return isinstance(alert_id, int) and alert_id in scope.alert_ids


def _in_scope(entry: Entry, source: Source, system: str | None, scope: Scope) -> bool:
    if not scope.since <= _time(entry) < scope.until:
        return False
    if system is None and entry.tenant is None and not source.unscoped:
        return False
    system_ok = not scope.systems or system is None or system in scope.systems
    tenant_ok = not scope.tenants or entry.tenant is None or entry.tenant in scope.tenants
    return system_ok and tenant_ok


def system_written(action: str) -> bool:
    """Whether an action is in a namespace only leitstand's services write (never manual)."""
    return not is_manual(action) and namespace_of(action) in SYSTEM_NAMESPACES


def _time(entry: Entry) -> datetime:
    return datetime.fromisoformat(entry.time.replace("Z", "+00:00"))


def assemble(
    entries: Iterable[Entry], scope: Scope, sources: Sequence[Source] = SOURCES
) -> list[TimelineEntry]:
    """The timeline of one incident from ledger entries (any order in, oldest first out)."""
    out: list[TimelineEntry] = []
    seen: set[int] = set()
    for entry in entries:
        if entry.index in seen or not system_written(entry.action):
            continue  # manual evidence never reads as an incident's or a service's event
        source = _source(entry.action, sources)
        if source is None:
            continue
        system = _system(entry.payload)
        if not (_own(entry, scope) or _in_scope(entry, source, system, scope)):
            continue
        if entry.action.startswith("incident.") and not scope.owns(entry.subject):
            continue  # another incident's own events
        seen.add(entry.index)
        values = {
            **{k: v for k, v in entry.payload.items() if isinstance(k, str)},
            "action": entry.action,
            "tenant": entry.tenant or "",
        }
        out.append(
            TimelineEntry(
                time=entry.time,
                kind=source.kind,
                action=entry.action,
                text_de=_render(source.de, values | {"subject": fmt_subject(entry.subject, "de")}),
                text_en=_render(source.en, values | {"subject": fmt_subject(entry.subject, "en")}),
                actor=entry.actor,
                role=entry.role,
                subject=entry.subject,
                tenant=entry.tenant,
                system=system,
                ledger_index=entry.index,
                routine=source.kind == "release" and routine_step(entry.action, entry.payload),
            )
        )
    out.sort(key=lambda e: (e.time, e.ledger_index))
    return out
