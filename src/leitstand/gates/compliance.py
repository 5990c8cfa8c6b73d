"""Stage 4, COMPLIANCE: an approved change record, a change-log entry, a complete runbook.

Extension point for feature flags: the seed wants stale flags removed after the rollout. When
``leitstand.flags.lifecycle.stale_flags`` exists, a check calling it belongs in
``COMPLIANCE_CHECKS`` (warn or fail per the flag policy); see docs/gates.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from leitstand.gates.checks import Check
from leitstand.gates.context import GateContext
from leitstand.gates.model import CheckResult, Finding, Severity

__all__ = ["COMPLIANCE_CHECKS", "runbook_sections", "service_of"]


def service_of(ctx: GateContext) -> str:
    """The system this project deploys: ``gates.service`` or the distribution name."""
    return ctx.gates.service or ctx.project.name


def approval_check(ctx: GateContext) -> CheckResult:
    """An approved change record exists for this service version (four eyes, allowed role)."""
    service, version = service_of(ctx), ctx.version()
    subject = f"{service} {version}"
    if ctx.approvals is None:
        finding = Finding(
            rule="no-change-store", message="no change store to look the approval up in"
        )
        return CheckResult.judge("compliance.approval", [finding], summary="no change store")
    change = ctx.approvals(service=service, version=version)
    if change is None:
        finding = Finding(
            rule="change-missing",
            message=f"no change record for {subject}: open one with "
            f"`leitstand change open --service {service} --version {version} ...`",
        )
        return CheckResult.judge(
            "compliance.approval", [finding], summary=f"no change record for {subject}"
        )
    if not change.approved:
        finding = Finding(
            rule="change-not-approved",
            message=f"change #{change.id} ({change.category}) for {subject} is {change.status}: "
            f"{change.detail}",
        )
        return CheckResult.judge(
            "compliance.approval",
            [finding],
            summary=f"change #{change.id} is not approved",
            measured=change.status,
            threshold="approved",
        )
    by = ", ".join(f"{who} ({role})" for who, role in change.approvals) or "the pipeline"
    return CheckResult.judge(
        "compliance.approval",
        [],
        summary=f"change #{change.id} ({change.category}) approved by {by}",
        measured=change.status,
        threshold="approved",
    )


def _first(ctx: GateContext, candidates: list[str]) -> Path | None:
    for name in candidates:
        path = ctx.project.root / name
        if path.is_file():
            return path
    return None


def changelog_check(ctx: GateContext) -> CheckResult:
    """The change log has an entry (a heading) naming this version."""
    candidates = list(ctx.gates.compliance.changelog)
    path = _first(ctx, candidates)
    version = ctx.version()
    if path is None:
        finding = Finding(
            rule="changelog-missing", message=f"no change log ({', '.join(candidates)})"
        )
        return CheckResult.judge("compliance.changelog", [finding], summary="no change log")
    text = path.read_text(encoding="utf-8", errors="replace")
    pattern = re.compile(rf"^#+ .*(?<![\w.]){re.escape(version)}(?![\w]|\.\d)", re.M)
    match = pattern.search(text)
    file = ctx.rel(path)
    if match is None:
        finding = Finding(
            rule="changelog-no-entry",
            message=f"{file} has no entry for version {version}",
            file=file,
        )
        return CheckResult.judge(
            "compliance.changelog", [finding], summary=f"no entry for {version}"
        )
    line = text.count("\n", 0, match.start()) + 1
    return CheckResult.judge(
        "compliance.changelog", [], summary=f"{file}:{line} names {version}", measured=version
    )


def runbook_sections(text: str, titles: dict[str, tuple[str, str]]) -> list[str]:
    """The keys of the required sections that have no heading in ``text``."""
    headings = [
        re.sub(r"^[\d.\s]+", "", h).strip().lower()
        for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)
    ]
    missing = []
    for key, (de, en) in titles.items():
        if not any(h.startswith((de.lower(), en.lower())) for h in headings):
            missing.append(key)
    return missing


def runbook_check(ctx: GateContext) -> CheckResult:
    """The Betriebshandbuch exists and has every section of the seed's template."""
    candidates = list(ctx.gates.compliance.runbook)
    path = _first(ctx, candidates)
    sections = ctx.policy.runbook
    if path is None:
        finding = Finding(
            rule="runbook-missing",
            message=f"no Betriebshandbuch for {service_of(ctx)} ({', '.join(candidates)})",
        )
        return CheckResult.judge("compliance.runbook", [finding], summary="no Betriebshandbuch")
    titles = {key: (s.title.de, s.title.en) for key, s in sections.items()}
    text = path.read_text(encoding="utf-8", errors="replace")
    missing = runbook_sections(text, titles)
    file = ctx.rel(path)
    findings = [
        Finding(
            rule="runbook-section-missing",
            message=f"{file}: section '{titles[key][0]}' is missing",
            severity=Severity.HIGH,
            file=file,
        )
        for key in missing
    ]
    return CheckResult.judge(
        "compliance.runbook",
        findings,
        summary=f"{file}: {len(titles) - len(missing)} of {len(titles)} sections",
        measured=len(titles) - len(missing),
        threshold=len(titles),
    )


def _flag(name: str) -> Callable[[GateContext], str | None]:
    def disabled(ctx: GateContext) -> str | None:
        on = getattr(ctx.pipeline.compliance, name)
        return None if on else f"pipeline.compliance.{name} is false"

    return disabled


COMPLIANCE_CHECKS: tuple[Check, ...] = (
    Check(
        "compliance.approval",
        ("Freigabe (Change-Record)", "Approval (change record)"),
        approval_check,
        _flag("approval_required"),
    ),
    Check(
        "compliance.changelog",
        ("Änderungsprotokoll (CHANGELOG)", "Change log (CHANGELOG)"),
        changelog_check,
        _flag("change_log_required"),
    ),
    Check(
        "compliance.runbook",
        ("Betriebshandbuch vollständig", "Operations manual complete"),
        runbook_check,
        _flag("documentation_complete"),
    ),
)
