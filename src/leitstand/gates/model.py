"""Gate results as data, and the rules that turn check outcomes into a verdict (pure: no I/O)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from typing import Any

__all__ = [
    "STAGES",
    "Allowed",
    "CheckResult",
    "Finding",
    "RunResult",
    "Severity",
    "Stage",
    "StageResult",
    "Status",
    "Tool",
    "exit_code",
    "expired",
    "matches_any",
    "parse_stages",
    "stage_status",
]


class Stage(StrEnum):
    """The seed's pipeline stages that ``gate run`` executes (deployment is ``gate ci``)."""

    BUILD = "build"
    TEST = "test"
    SECURITY = "security"
    COMPLIANCE = "compliance"


STAGES: tuple[Stage, ...] = tuple(Stage)


class Status(StrEnum):
    """A check's or stage's verdict."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    SKIP = "skip"


class Severity(StrEnum):
    """How serious a finding is; ``blocking`` findings fail their check."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Tool:
    """A scanner or engine that produced a result, with its version."""

    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a check found: a rule id, a message, and where (file/line or package)."""

    rule: str
    message: str
    severity: Severity = Severity.HIGH
    blocking: bool = True
    file: str | None = None
    line: int | None = None
    package: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "message": self.message,
            "severity": self.severity.value,
            "blocking": self.blocking,
        }
        for key in ("file", "line", "package"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.data:
            out["data"] = self.data
        return out


@dataclass(frozen=True, slots=True)
class Allowed:
    """A finding an allow-list entry accepted, with the entry's reason and expiry."""

    finding: Finding
    reason: str
    expires: date

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.finding.as_dict(),
            "reason": self.reason,
            "expires": self.expires.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The typed result of one check (what every check callable returns)."""

    id: str
    status: Status
    summary: str
    measured: float | int | str | None = None
    threshold: float | int | str | None = None
    findings: tuple[Finding, ...] = ()
    allowed: tuple[Allowed, ...] = ()
    tools: tuple[Tool, ...] = ()
    duration_s: float = 0.0

    @classmethod
    def judge(
        cls,
        check_id: str,
        findings: Sequence[Finding],
        *,
        summary: str,
        measured: float | int | str | None = None,
        threshold: float | int | str | None = None,
        max_blocking: int = 0,
        allowed: Sequence[Allowed] = (),
        tools: Sequence[Tool] = (),
    ) -> CheckResult:
        """Pass when at most ``max_blocking`` findings block."""
        blocking = sum(1 for f in findings if f.blocking)
        return cls(
            id=check_id,
            status=Status.PASS if blocking <= max_blocking else Status.FAIL,
            summary=summary,
            measured=measured,
            threshold=threshold,
            findings=tuple(findings),
            allowed=tuple(allowed),
            tools=tuple(tools),
        )

    @classmethod
    def skipped(cls, check_id: str, why: str) -> CheckResult:
        return cls(id=check_id, status=Status.SKIP, summary=why)

    def timed(self, seconds: float) -> CheckResult:
        return replace(self, duration_s=round(seconds, 3))

    @property
    def stage(self) -> str:
        return self.id.split(".", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "summary": self.summary,
            "measured": self.measured,
            "threshold": self.threshold,
            "findings": [f.as_dict() for f in self.findings],
            "allowed": [a.as_dict() for a in self.allowed],
            "tools": {t.name: t.version for t in self.tools},
            "duration_s": self.duration_s,
        }


@dataclass(frozen=True, slots=True)
class StageResult:
    """A stage's checks and its verdict."""

    stage: Stage
    status: Status
    checks: tuple[CheckResult, ...]
    duration_s: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage.value,
            "status": self.status.value,
            "duration_s": self.duration_s,
            "checks": [c.as_dict() for c in self.checks],
        }


@dataclass(frozen=True, slots=True)
class RunResult:
    """A whole gate run: project identity, stages in order, overall verdict."""

    project: str
    version: str
    commit: str | None
    path: str
    started_at: str
    duration_s: float
    stages: tuple[StageResult, ...]
    not_run: tuple[Stage, ...] = ()
    change_id: int | None = None

    @property
    def status(self) -> Status:
        if any(s.status is Status.FAIL for s in self.stages):
            return Status.FAIL
        if self.stages and all(s.status is Status.SKIP for s in self.stages):
            return Status.SKIP
        return Status.PASS

    @property
    def checks(self) -> list[CheckResult]:
        return [c for s in self.stages for c in s.checks]

    @property
    def tools(self) -> dict[str, str]:
        return {t.name: t.version for c in self.checks for t in c.tools}

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": "leitstand.gate-report/1",
            "project": self.project,
            "version": self.version,
            "commit": self.commit,
            "path": self.path,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "status": self.status.value,
            "change_id": self.change_id,
            "tools": self.tools,
            "stages": [s.as_dict() for s in self.stages],
            "not_run": [s.value for s in self.not_run],
        }


def stage_status(checks: Iterable[CheckResult]) -> Status:
    """A stage fails if any check fails; it is skipped only if every check was skipped."""
    statuses = [c.status for c in checks]
    if Status.FAIL in statuses:
        return Status.FAIL
    if statuses and all(s is Status.SKIP for s in statuses):
        return Status.SKIP
    return Status.PASS


def exit_code(result: RunResult) -> int:
    """0 when every gate passed (or had nothing to check), 1 when one failed."""
    return 1 if result.status is Status.FAIL else 0


def parse_stages(text: str | None) -> tuple[Stage, ...]:
    """Parse ``build,test`` into stages in pipeline order; raise ValueError naming a bad one."""
    if text is None or not text.strip():
        return STAGES
    wanted: set[Stage] = set()
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        try:
            wanted.add(Stage(name))
        except ValueError:
            valid = ", ".join(s.value for s in STAGES)
            raise ValueError(f"expected stages from {valid} (got {raw.strip()!r})") from None
    return tuple(s for s in STAGES if s in wanted)


def expired(expires: date, today: date) -> bool:
    """An allow-list entry allows up to and including its expiry day."""
    return today > expires


def matches_any(value: str, patterns: Iterable[str]) -> bool:
    """Case-insensitive glob match (``GPL-*`` matches ``GPL-3.0-only``)."""
    lowered = value.lower()
    return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in patterns)
