"""Allow-list entries: accepted while valid, always reported; expired ones stop allowing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Generic, TypeVar

from leitstand.gates.model import Allowed, Finding, Severity, expired
from leitstand.policy.gates import AllowEntry

__all__ = ["Allowance", "apply_allowances"]

E = TypeVar("E", bound=AllowEntry)


@dataclass
class Allowance(Generic[E]):
    """The outcome: findings still open, findings allowed, and notes about the entries."""

    open: list[Finding] = field(default_factory=list)
    allowed: list[Allowed] = field(default_factory=list)


def apply_allowances(
    findings: Sequence[Finding],
    entries: Sequence[E],
    *,
    matches: Callable[[Finding, E], bool],
    today: date,
    describe: Callable[[E], str],
    review_too: bool = False,
) -> Allowance[E]:
    """Allow blocking findings an unexpired entry matches; report expired and unused entries.

    With ``review_too``, findings listed for review are matched as well (triaged ones move to
    the allowed list); an expired entry never makes a review finding block.
    """
    result: Allowance[E] = Allowance()
    used: set[int] = set()
    for finding in findings:
        if not finding.blocking and not review_too:
            result.open.append(finding)
            continue
        valid = [e for e in entries if matches(finding, e) and not expired(e.expires, today)]
        stale = [e for e in entries if matches(finding, e) and expired(e.expires, today)]
        if valid:
            entry = valid[0]
            used.add(id(entry))
            result.allowed.append(Allowed(finding, entry.reason, entry.expires))
            continue
        if stale:
            used.update(id(e) for e in stale)
            note = f" (allow-list entry expired on {stale[0].expires.isoformat()})"
            finding = replace(finding, message=finding.message + note)
        result.open.append(finding)
    for entry in entries:
        if id(entry) in used:
            continue
        if expired(entry.expires, today):
            message = f"expired allow-list entry ({describe(entry)}) expired on {entry.expires}"
        else:
            message = f"allow-list entry ({describe(entry)}) matched nothing; remove it"
        result.open.append(
            Finding(rule="allow-list", message=message, severity=Severity.INFO, blocking=False)
        )
    return result
