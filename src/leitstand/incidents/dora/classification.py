"""DORA major-incident classification (pure): Delegated Regulation (EU) 2024/1772, Art. 6, 8, 9.

An incident is major when it affected critical services (Art. 6) and either the threshold of
Art. 9(5)(b) (successful malicious unauthorised access that may lead to data losses) is met, or
two or more of the other materiality thresholds of Art. 9(1) to (6) are met (Art. 8(1)). Each
paragraph of Art. 9 is one threshold; its points are alternatives. Art. 6 also counts a successful
malicious unauthorised access as affecting critical services.

Recurring incidents (Art. 8(2)): two or more within six months with the same apparent root
cause, not major on their own, that together meet Art. 8(1) count as one major incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

__all__ = [
    "RECURRING_WINDOW_DAYS",
    "THRESHOLDS",
    "Assessment",
    "Classification",
    "Criterion",
    "DataLoss",
    "RecurringGroup",
    "Thresholds",
    "assessment_of",
    "classify",
    "combine",
    "recurring_groups",
]


class Criterion(StrEnum):
    """Criterion names as reported in ``criteria_met``."""

    CRITICAL_SERVICES = "critical_services"  # Art. 6 (precondition)
    MALICIOUS_ACCESS = "malicious_unauthorised_access"  # Art. 9(5)(b)
    CLIENTS = "clients_counterparts_transactions"  # Art. 9(1)
    REPUTATION = "reputational_impact"  # Art. 9(2)
    DURATION = "duration_and_downtime"  # Art. 9(3)
    GEOGRAPHY = "geographical_spread"  # Art. 9(4)
    DATA_LOSS = "data_losses"  # Art. 9(5)(a)
    ECONOMIC = "economic_impact"  # Art. 9(6)


#: The other materiality thresholds of Art. 9(1)-(6) (two or more make an incident major).
OTHER_THRESHOLDS = (
    Criterion.CLIENTS,
    Criterion.REPUTATION,
    Criterion.DURATION,
    Criterion.GEOGRAPHY,
    Criterion.DATA_LOSS,
    Criterion.ECONOMIC,
)
REPUTATIONAL = ("media", "complaints", "regulatory_breach", "client_loss")
RECURRING_WINDOW_DAYS = 183  # six months (Art. 8(2)(a)), as days for a rolling window


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The numbers of Art. 9 (regulation text, not policy)."""

    clients_pct: float = 10.0  # 9(1)(a)
    clients_absolute: int = 100_000  # 9(1)(b)
    counterparts_pct: float = 30.0  # 9(1)(c)
    transactions_number_pct: float = 10.0  # 9(1)(d)
    transactions_value_pct: float = 10.0  # 9(1)(e)
    duration_hours: float = 24.0  # 9(3)(a)
    downtime_hours: float = 2.0  # 9(3)(b)
    member_states: int = 2  # 9(4)
    economic_eur: float = 100_000.0  # 9(6)


THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class DataLoss:
    availability: bool = False
    authenticity: bool = False
    integrity: bool = False
    confidentiality: bool = False

    def aspects(self) -> list[str]:
        return [
            name
            for name in ("availability", "authenticity", "integrity", "confidentiality")
            if getattr(self, name)
        ]


@dataclass(frozen=True, slots=True)
class Assessment:
    """The facts of one incident for one financial entity (tenant)."""

    critical_services_affected: bool
    malicious_unauthorised_access: bool = False
    clients_affected: int = 0
    clients_total: int = 0
    financial_counterparts_affected_pct: float = 0.0
    transactions_number_affected_pct: float = 0.0
    transactions_value_affected_pct: float = 0.0
    relevant_clients_affected: bool = False
    reputational_impact: tuple[str, ...] = ()
    duration_hours: float = 0.0
    critical_function_downtime_hours: float = 0.0
    member_states_affected: tuple[str, ...] = ()
    data_loss: DataLoss = field(default_factory=DataLoss)
    economic_impact_eur: float = 0.0


def assessment_of(inputs: dict[str, Any]) -> Assessment:
    """The stored facts of an assessment as the classification's input."""
    known = {f.name for f in fields(Assessment)}
    values = {k: v for k, v in inputs.items() if k in known}  # 3.18's impacts: not a criterion
    values["data_loss"] = DataLoss(**values.get("data_loss", {}))
    values["reputational_impact"] = tuple(values.get("reputational_impact", ()))
    values["member_states_affected"] = tuple(values.get("member_states_affected", ()))
    return Assessment(**values)


@dataclass(frozen=True, slots=True)
class Reason:
    criterion: Criterion
    de: str
    en: str


@dataclass(frozen=True, slots=True)
class Classification:
    major: bool
    criteria_met: list[Criterion]
    reasons: list[Reason]

    def reason_texts(self, lang: str = "de") -> list[str]:
        return [r.en if lang == "en" else r.de for r in self.reasons]


def _num(value: float) -> str:
    return f"{value:,.1f}".replace(",", "\u202f").rstrip("0").rstrip(".")


def _clients(a: Assessment, t: Thresholds) -> list[Reason]:
    c = Criterion.CLIENTS
    out: list[Reason] = []
    if a.clients_total > 0:
        pct = 100.0 * a.clients_affected / a.clients_total
        if pct > t.clients_pct:
            out.append(
                Reason(
                    c,
                    f"Art. 9(1)(a): {_num(pct)} % der Kunden betroffen (> {_num(t.clients_pct)} %)",
                    f"Art. 9(1)(a): {_num(pct)}% of clients affected (> {_num(t.clients_pct)}%)",
                )
            )
    if a.clients_affected > t.clients_absolute:
        out.append(
            Reason(
                c,
                f"Art. 9(1)(b): {a.clients_affected} Kunden betroffen (> {t.clients_absolute})",
                f"Art. 9(1)(b): {a.clients_affected} clients affected (> {t.clients_absolute})",
            )
        )
    for value, limit, point, de, en in (
        (
            a.financial_counterparts_affected_pct,
            t.counterparts_pct,
            "c",
            "der finanziellen Gegenparteien",
            "of financial counterparts",
        ),
        (
            a.transactions_number_affected_pct,
            t.transactions_number_pct,
            "d",
            "der Transaktionen (Anzahl, Tagesdurchschnitt)",
            "of transactions (number, daily average)",
        ),
        (
            a.transactions_value_affected_pct,
            t.transactions_value_pct,
            "e",
            "der Transaktionen (Wert, Tagesdurchschnitt)",
            "of transactions (value, daily average)",
        ),
    ):
        if value > limit:
            out.append(
                Reason(
                    c,
                    f"Art. 9(1)({point}): {_num(value)} % {de} betroffen (> {_num(limit)} %)",
                    f"Art. 9(1)({point}): {_num(value)}% {en} affected (> {_num(limit)}%)",
                )
            )
    if a.relevant_clients_affected:
        out.append(
            Reason(
                c,
                "Art. 9(1)(f): relevante Kunden oder Gegenparteien betroffen",
                "Art. 9(1)(f): relevant clients or counterparts affected",
            )
        )
    return out


_REPUTATION_TEXT = {
    "media": ("Medienberichterstattung", "media coverage"),
    "complaints": ("wiederholte Beschwerden", "repeated complaints"),
    "regulatory_breach": (
        "voraussichtliche Verletzung regulatorischer Anforderungen",
        "likely breach of regulatory requirements",
    ),
    "client_loss": (
        "voraussichtlicher Verlust von Kunden mit wesentlicher Auswirkung",
        "likely loss of clients with material impact",
    ),
}


def _reputation(a: Assessment) -> list[Reason]:
    if not a.reputational_impact:
        return []
    de = ", ".join(_REPUTATION_TEXT[k][0] for k in a.reputational_impact)
    en = ", ".join(_REPUTATION_TEXT[k][1] for k in a.reputational_impact)
    return [Reason(Criterion.REPUTATION, f"Art. 9(2): {de}", f"Art. 9(2): {en}")]


def _duration(a: Assessment, t: Thresholds) -> list[Reason]:
    out: list[Reason] = []
    if a.duration_hours > t.duration_hours:
        out.append(
            Reason(
                Criterion.DURATION,
                f"Art. 9(3)(a): Dauer {_num(a.duration_hours)} h (> {_num(t.duration_hours)} h)",
                f"Art. 9(3)(a): duration {_num(a.duration_hours)} h (> {_num(t.duration_hours)} h)",
            )
        )
    if a.critical_function_downtime_hours > t.downtime_hours:
        h, limit = _num(a.critical_function_downtime_hours), _num(t.downtime_hours)
        out.append(
            Reason(
                Criterion.DURATION,
                f"Art. 9(3)(b): Ausfall kritischer Funktionen {h} h (> {limit} h)",
                f"Art. 9(3)(b): downtime of critical functions {h} h (> {limit} h)",
            )
        )
    return out


def _geography(a: Assessment, t: Thresholds) -> list[Reason]:
    states = sorted(set(a.member_states_affected))
    if len(states) < t.member_states:
        return []
    listed = ", ".join(states)
    return [
        Reason(
            Criterion.GEOGRAPHY,
            f"Art. 9(4): Auswirkungen in {len(states)} Mitgliedstaaten ({listed})",
            f"Art. 9(4): impact in {len(states)} member states ({listed})",
        )
    ]


_ASPECTS_DE = {
    "availability": "Verfügbarkeit",
    "authenticity": "Authentizität",
    "integrity": "Integrität",
    "confidentiality": "Vertraulichkeit",
}


def _data(a: Assessment) -> list[Reason]:
    out: list[Reason] = []
    aspects = a.data_loss.aspects()
    if aspects:
        out.append(
            Reason(
                Criterion.DATA_LOSS,
                f"Art. 9(5)(a): Verluste von Daten ({', '.join(_ASPECTS_DE[a] for a in aspects)})",
                f"Art. 9(5)(a): data losses ({', '.join(aspects)})",
            )
        )
    return out


def _economic(a: Assessment, t: Thresholds) -> list[Reason]:
    if a.economic_impact_eur <= t.economic_eur:
        return []
    eur, limit = _num(a.economic_impact_eur), _num(t.economic_eur)
    return [
        Reason(
            Criterion.ECONOMIC,
            f"Art. 9(6): Kosten und Verluste {eur} EUR (> {limit} EUR)",
            f"Art. 9(6): costs and losses EUR {eur} (> EUR {limit})",
        )
    ]


def classify(a: Assessment, t: Thresholds = THRESHOLDS) -> Classification:
    """Apply Art. 8(1): critical services AND (9(5)(b) OR two or more other thresholds)."""
    reasons: list[Reason] = []
    critical = a.critical_services_affected or a.malicious_unauthorised_access
    if a.critical_services_affected:
        reasons.append(
            Reason(
                Criterion.CRITICAL_SERVICES,
                "Art. 6: kritische Dienste betroffen",
                "Art. 6: critical services affected",
            )
        )
    elif a.malicious_unauthorised_access:
        reasons.append(
            Reason(
                Criterion.CRITICAL_SERVICES,
                "Art. 6: erfolgreicher böswilliger unbefugter Zugriff gilt als Betroffenheit "
                "kritischer Dienste",
                "Art. 6: a successful malicious unauthorised access counts as critical services "
                "affected",
            )
        )
    if a.malicious_unauthorised_access:
        reasons.append(
            Reason(
                Criterion.MALICIOUS_ACCESS,
                "Art. 9(5)(b): erfolgreicher, böswilliger, unbefugter Zugriff, der zu "
                "Datenverlusten führen kann",
                "Art. 9(5)(b): successful, malicious, unauthorised access that may lead to "
                "data losses",
            )
        )
    reasons += _clients(a, t)
    reasons += _reputation(a)
    reasons += _duration(a, t)
    reasons += _geography(a, t)
    reasons += _data(a)
    reasons += _economic(a, t)
    met = [c for c in Criterion if any(r.criterion is c for r in reasons)]
    others = [c for c in OTHER_THRESHOLDS if c in met]
    major = critical and (Criterion.MALICIOUS_ACCESS in met or len(others) >= 2)
    if major:
        rule = (
            "Art. 8(1)(b)(i): Schwelle nach Art. 9(5)(b) erfüllt"
            if Criterion.MALICIOUS_ACCESS in met
            else f"Art. 8(1)(b)(ii): {len(others)} Wesentlichkeitsschwellen erfüllt"
        )
        rule_en = (
            "Art. 8(1)(b)(i): threshold of Art. 9(5)(b) met"
            if Criterion.MALICIOUS_ACCESS in met
            else f"Art. 8(1)(b)(ii): {len(others)} materiality thresholds met"
        )
        reasons.append(
            Reason(
                Criterion.CRITICAL_SERVICES,
                f"Schwerwiegend: {rule}",
                f"Major: {rule_en}",
            )
        )
    elif not critical:
        reasons.append(
            Reason(
                Criterion.CRITICAL_SERVICES,
                "Nicht schwerwiegend: keine kritischen Dienste betroffen (Art. 8(1)(a))",
                "Not major: no critical services affected (Art. 8(1)(a))",
            )
        )
    else:
        reasons.append(
            Reason(
                Criterion.CRITICAL_SERVICES,
                f"Nicht schwerwiegend: {len(others)} von mindestens 2 Wesentlichkeitsschwellen "
                "erfüllt (Art. 8(1)(b))",
                f"Not major: {len(others)} of at least 2 materiality thresholds met (Art. 8(1)(b))",
            )
        )
    return Classification(major=major, criteria_met=met, reasons=reasons)


def combine(assessments: Sequence[Assessment]) -> Assessment:
    """The collective facts of recurring incidents (Art. 8(2)(c)).

    Counts, durations, downtime and costs add up; percentages add up (at most 100); flags and
    lists are united.
    """

    def total(name: str) -> float:
        return float(sum(getattr(a, name) for a in assessments))

    def pct(name: str) -> float:
        return min(100.0, total(name))

    clients_total = max((a.clients_total for a in assessments), default=0)
    affected = int(total("clients_affected"))
    return Assessment(
        critical_services_affected=any(a.critical_services_affected for a in assessments),
        malicious_unauthorised_access=any(a.malicious_unauthorised_access for a in assessments),
        clients_affected=min(affected, clients_total) if clients_total else affected,
        clients_total=clients_total,
        financial_counterparts_affected_pct=pct("financial_counterparts_affected_pct"),
        transactions_number_affected_pct=pct("transactions_number_affected_pct"),
        transactions_value_affected_pct=pct("transactions_value_affected_pct"),
        relevant_clients_affected=any(a.relevant_clients_affected for a in assessments),
        reputational_impact=tuple(
            k for k in REPUTATIONAL if any(k in a.reputational_impact for a in assessments)
        ),
        duration_hours=total("duration_hours"),
        critical_function_downtime_hours=total("critical_function_downtime_hours"),
        member_states_affected=tuple(
            sorted({s for a in assessments for s in a.member_states_affected})
        ),
        data_loss=DataLoss(
            **{
                aspect: any(getattr(a.data_loss, aspect) for a in assessments)
                for aspect in ("availability", "authenticity", "integrity", "confidentiality")
            }
        ),
        economic_impact_eur=total("economic_impact_eur"),
    )


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One past incident of a tenant, as the recurring check sees it."""

    incident_id: str
    root_cause: str
    occurred_at: datetime
    assessment: Assessment
    major: bool


@dataclass(frozen=True, slots=True)
class RecurringGroup:
    root_cause: str
    incident_ids: list[str]
    classification: Classification


def recurring_groups(
    occurrences: Sequence[Occurrence],
    *,
    now: datetime,
    window: timedelta = timedelta(days=RECURRING_WINDOW_DAYS),
    t: Thresholds = THRESHOLDS,
) -> list[RecurringGroup]:
    """Groups of >= 2 non-major incidents in ``window`` before ``now`` with one root cause that
    together meet Art. 8(1)."""
    by_cause: dict[str, list[Occurrence]] = {}
    for occ in occurrences:
        if occ.major or not occ.root_cause or now - occ.occurred_at > window:
            continue
        by_cause.setdefault(occ.root_cause, []).append(occ)
    groups: list[RecurringGroup] = []
    for cause, members in sorted(by_cause.items()):
        if len(members) < 2:
            continue
        members.sort(key=lambda o: o.occurred_at)
        result = classify(combine([m.assessment for m in members]), t)
        if result.major:
            groups.append(RecurringGroup(cause, [m.incident_id for m in members], result))
    return groups
