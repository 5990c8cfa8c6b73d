"""Stage 4, COMPLIANCE: an approved change record, a change-log entry, a complete runbook, no
stale feature flags (the seed: flags are removed after full rollout, no dead code).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from leitstand.flags.lifecycle import StaleFlag, stale_flags, stale_gate_fails
from leitstand.gates.checks import Check
from leitstand.gates.context import GateContext
from leitstand.gates.model import CheckResult, Finding, Severity
from leitstand.policy.durations import format_duration
from leitstand.policy.model import Policy

__all__ = ["COMPLIANCE_CHECKS", "runbook_sections", "service_of", "stale_flags_check"]


def service_of(ctx: GateContext) -> str:
    """The system this project deploys: ``gates.service`` or the distribution name."""
    return ctx.gates.service or ctx.name()


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


def _lifetime(policy: Policy, kind: str) -> str | None:
    value = policy.deployment.feature_flags.lifetimes.get(kind)
    return format_duration(value) if isinstance(value, timedelta) else value


def _stale_finding(stale: StaleFlag, policy: Policy, *, blocking: bool) -> Finding:
    owner = f", owner {stale.owner}" if stale.owner else ""
    return Finding(
        rule="stale-flag",
        message=f"flag {stale.key} ({stale.kind}{owner}) is stale ({stale.reason.value}): "
        f"{stale.message}",
        # stale_gate "warn" informs (non-blocking), "fail" blocks; the policy decides.
        severity=Severity.HIGH if blocking else Severity.MEDIUM,
        blocking=blocking,
        data={**stale.as_dict(), "lifetime": _lifetime(policy, stale.kind)},
    )


def _flags(count: int) -> str:
    return f"{count} active flag{'' if count == 1 else 's'}"


def stale_flags_check(ctx: GateContext) -> CheckResult:
    """No feature flag outlives its type's lifetime or its full rollout in production."""
    if ctx.flags is None:
        return CheckResult.skipped(
            "compliance.flags", "no flag store for this run: feature flags not checked"
        )
    records = list(ctx.flags())
    active = [f for f in records if not f.archived]
    archived = f" ({len(records) - len(active)} archived)" if len(records) > len(active) else ""
    if not active:
        return CheckResult.judge(
            "compliance.flags",
            [],
            summary=f"no active feature flags{archived}" if records else "no feature flags",
            measured=0,
        )
    stale = stale_flags(active, policy=ctx.policy, now=ctx.now)
    fails = stale_gate_fails(stale, policy=ctx.policy)
    findings = [_stale_finding(s, ctx.policy, blocking=fails) for s in stale]
    if stale:
        gate = ctx.policy.deployment.feature_flags.stale_gate.value
        keys = ", ".join(s.key for s in stale)
        summary = f"{len(stale)} of {_flags(len(active))} stale (stale_gate {gate}): {keys}"
    else:
        summary = f"{_flags(len(active))}, none stale{archived}"
    return CheckResult.judge("compliance.flags", findings, summary=summary, measured=len(stale))


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
    # No pipeline switch: deployment.feature_flags.stale_gate says whether stale flags block.
    Check(
        "compliance.flags",
        ("Veraltete Feature Flags", "Stale feature flags"),
        stale_flags_check,
    ),
)
