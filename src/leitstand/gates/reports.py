"""Report files: report.json, summary.md (German default), junit.xml, SARIF 2.1.0, GitLab reports.

Every file is written to a temporary name and renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from leitstand import __version__
from leitstand.gates.model import CheckResult, Finding, RunResult, Severity, Status

__all__ = [
    "REPORT_FILES",
    "gitlab_report",
    "junit_xml",
    "sarif",
    "summary_markdown",
    "write_reports",
]

REPORT_FILES = (
    "report.json",
    "summary.md",
    "junit.xml",
    "findings.sarif",
    "gl-secret-detection-report.json",
    "gl-dependency-scanning-report.json",
    "gl-container-scanning-report.json",
)
_GITLAB_SCHEMA = "15.0.7"
_WORDS = {
    "de": {
        Status.PASS: "bestanden",
        Status.FAIL: "fehlgeschlagen",
        Status.SKIP: "übersprungen",
        "title": "Quality-Gate-Bericht",
        "project": "Projekt",
        "version": "Version",
        "commit": "Commit",
        "result": "Ergebnis",
        "stage": "Stufe",
        "check": "Prüfung",
        "status": "Status",
        "measured": "Gemessen",
        "threshold": "Schwelle",
        "findings": "Befunde",
        "review": "zur Prüfung (nicht blockierend)",
        "allowed": "Erlaubt (Allow-List)",
        "until": "bis",
        "not_run": "Nicht ausgeführt (Fail = Stop)",
        "duration": "Dauer",
        "blocked": "Das Deployment ist blockiert.",
        "free": "Alle Gates bestanden.",
        "tools": "Werkzeuge",
    },
    "en": {
        Status.PASS: "passed",
        Status.FAIL: "failed",
        Status.SKIP: "skipped",
        "title": "Quality gate report",
        "project": "Project",
        "version": "Version",
        "commit": "Commit",
        "result": "Result",
        "stage": "Stage",
        "check": "Check",
        "status": "Status",
        "measured": "Measured",
        "threshold": "Threshold",
        "findings": "Findings",
        "review": "for review (not blocking)",
        "allowed": "Allowed (allow-list)",
        "until": "until",
        "not_run": "Not run (fail = stop)",
        "duration": "Duration",
        "blocked": "The deployment is blocked.",
        "free": "All gates passed.",
        "tools": "Tools",
    },
}
_STAGE_NAMES = {
    "de": {
        "build": "BUILD",
        "test": "TEST",
        "security": "SECURITY",
        "compliance": "COMPLIANCE CHECK",
    },
    "en": {
        "build": "BUILD",
        "test": "TEST",
        "security": "SECURITY",
        "compliance": "COMPLIANCE CHECK",
    },
}


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def summary_markdown(result: RunResult, *, lang: str = "de", titles: dict[str, str]) -> str:
    """A human summary of the run; German unless ``lang`` is ``en``."""
    w = _WORDS["en" if lang == "en" else "de"]
    names = _STAGE_NAMES["en" if lang == "en" else "de"]
    lines = [
        f"# {w['title']}: {result.project} {result.version}",
        "",
        f"- {w['project']}: `{result.project}`",
        f"- {w['version']}: `{result.version}`",
        f"- {w['commit']}: `{result.commit or '-'}`",
        f"- {w['result']}: **{w[result.status]}** ({w['duration']} {result.duration_s:.1f} s)",
        "",
        w["blocked"] if result.status is Status.FAIL else w["free"],
        "",
    ]
    for stage in result.stages:
        lines += [
            f"## {names[stage.stage.value]}: {w[stage.status]}",
            "",
            f"| {w['check']} | {w['status']} | {w['measured']} | {w['threshold']} | |",
            "|---|---|---|---|---|",
        ]
        for check in stage.checks:
            lines.append(
                f"| {_cell(titles.get(check.id, check.id))} | {w[check.status]} | "
                f"{_cell(check.measured)} | {_cell(check.threshold)} | {_cell(check.summary)} |"
            )
        lines.append("")
        for check in stage.checks:
            blocking = [f for f in check.findings if f.blocking]
            review = [f for f in check.findings if not f.blocking]
            for heading, group, mark in (
                (w["findings"], blocking, "✗"),
                (w["review"], review, "·"),
            ):
                if not group:
                    continue
                lines.append(f"### {titles.get(check.id, check.id)}: {heading}")
                lines.append("")
                for f in group[:50]:
                    lines.append(f"- {mark} `{f.rule}` ({f.severity.value}): {_cell(f.message)}")
                if len(group) > 50:
                    lines.append(f"- … {len(group) - 50} more (report.json)")
                lines.append("")
            if check.allowed:
                lines.append(f"### {titles.get(check.id, check.id)}: {w['allowed']}")
                lines.append("")
                for a in check.allowed:
                    lines.append(
                        f"- `{a.finding.rule}`: {_cell(a.finding.message)} — {_cell(a.reason)} "
                        f"({w['until']} {a.expires.isoformat()})"
                    )
                lines.append("")
    if result.not_run:
        lines += [f"## {w['not_run']}", ""] + [f"- {names[s.value]}" for s in result.not_run] + [""]
    if result.tools:
        lines += [f"## {w['tools']}", ""]
        lines += [f"- {name} {version}" for name, version in sorted(result.tools.items())]
        lines.append("")
    return "\n".join(lines)


def junit_xml(result: RunResult) -> str:
    """JUnit XML: one testsuite per stage, one testcase per check."""
    suites = ET.Element("testsuites", name=f"leitstand gate {result.project}")
    for stage in result.stages:
        failures = sum(1 for c in stage.checks if c.status is Status.FAIL)
        skipped = sum(1 for c in stage.checks if c.status is Status.SKIP)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=stage.stage.value,
            tests=str(len(stage.checks)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=f"{stage.duration_s:.3f}",
        )
        for check in stage.checks:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"gate.{stage.stage.value}",
                name=check.id,
                time=f"{check.duration_s:.3f}",
            )
            if check.status is Status.FAIL:
                failure = ET.SubElement(case, "failure", message=check.summary, type="gate")
                failure.text = "\n".join(f.message for f in check.findings if f.blocking)
            elif check.status is Status.SKIP:
                ET.SubElement(case, "skipped", message=check.summary)
            else:
                out = ET.SubElement(case, "system-out")
                out.text = check.summary
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def _level(finding: Finding) -> str:
    if finding.blocking:
        return "error"
    if finding.severity in (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM):
        return "warning"
    return "note"


def sarif(result: RunResult) -> dict[str, Any]:
    """SARIF 2.1.0 with one run; every finding is a result of a rule ``<check>/<rule>``."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for check in result.checks:
        for finding in check.findings:
            rule_id = f"{check.id}/{finding.rule}"
            rules.setdefault(rule_id, {"id": rule_id, "shortDescription": {"text": finding.rule}})
            item: dict[str, Any] = {
                "ruleId": rule_id,
                "level": _level(finding),
                "message": {"text": finding.message},
                "properties": {"severity": finding.severity.value, "check": check.id},
            }
            if finding.data.get("fingerprint"):
                item["partialFingerprints"] = {"leitstand/v1": finding.data["fingerprint"]}
                item["properties"].update(
                    {k: finding.data[k] for k in ("kind", "provider", "location", "verdict")}
                )
            if finding.file:
                region = {"startLine": finding.line} if finding.line else None
                location: dict[str, Any] = {"artifactLocation": {"uri": finding.file}}
                if region:
                    location["region"] = region
                item["locations"] = [{"physicalLocation": location}]
            results.append(item)
    return {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "leitstand",
                        "version": __version__,
                        "informationUri": "https://example.invalid/leitstand",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }


def _gitlab_time(iso: str) -> str:
    return iso[:19]


def gitlab_report(
    result: RunResult, check: CheckResult | None, *, kind: str, scanner: tuple[str, str, str]
) -> dict[str, Any]:
    """A GitLab security report (schema 15.0.x): secret_detection, dependency_scanning or
    container_scanning (the image scan: advisories by package, secrets and misconfigurations
    in the image by file)."""
    vulnerabilities = []
    for finding in check.findings if check else ():
        if finding.rule == "allow-list":
            continue
        digest = hashlib.sha256(
            f"{kind}|{finding.rule}|{finding.file}|{finding.line}|{finding.package}".encode()
        ).hexdigest()
        entry: dict[str, Any] = {
            "id": str(uuid.UUID(digest[:32])),
            "name": finding.rule,
            "description": finding.message,
            "severity": finding.severity.value.capitalize(),
            "identifiers": [{"type": scanner[0], "name": finding.rule, "value": finding.rule}],
        }
        if kind == "secret_detection":
            entry["location"] = {
                "file": finding.file,
                "start_line": finding.line,
                "commit": {"sha": result.commit or "0" * 40},
            }
        elif kind == "container_scanning":
            name, _, version = (finding.package or "").partition("==")
            entry["location"] = {
                "dependency": {
                    "package": {"name": name or finding.file or finding.rule},
                    "version": version,
                },
                "operating_system": str(finding.data.get("os") or "unknown"),
                "image": str(finding.data.get("image") or ""),
            }
        else:
            name, _, version = (finding.package or "?==?").partition("==")
            entry["location"] = {
                "file": "pyproject.toml",
                "dependency": {"package": {"name": name}, "version": version},
            }
        for alias in finding.data.get("aliases", []):
            if str(alias).startswith("CVE-"):
                entry["identifiers"].append({"type": "cve", "name": alias, "value": alias})
        vulnerabilities.append(entry)
    end = result.started_at
    return {
        "version": _GITLAB_SCHEMA,
        "vulnerabilities": vulnerabilities,
        "scan": {
            "analyzer": {
                "id": "leitstand",
                "name": "leitstand",
                "version": __version__,
                "vendor": {"name": "leitstand"},
            },
            "scanner": {
                "id": scanner[0],
                "name": scanner[1],
                "version": scanner[2],
                "vendor": {"name": scanner[1]},
            },
            "type": kind,
            "start_time": _gitlab_time(result.started_at),
            "end_time": _gitlab_time(end),
            "status": "success" if check is not None else "failure",
        },
    }


# GitLab's security reports: file, report type, the check it comes from, and the scanner
# (id, name, the tool whose version is reported).
_GITLAB_REPORTS = (
    (
        "gl-secret-detection-report.json",
        "secret_detection",
        "security.secrets",
        ("detect_secrets", "detect-secrets", "detect-secrets"),
    ),
    (
        "gl-dependency-scanning-report.json",
        "dependency_scanning",
        "security.dependencies",
        ("osv", "OSV", "osv"),
    ),
    (
        "gl-container-scanning-report.json",
        "container_scanning",
        "security.images",
        ("syft_trivy", "syft and Trivy", "syft"),
    ),
)


def write_reports(result: RunResult, out: Path, *, lang: str, titles: dict[str, str]) -> list[Path]:
    """Write every report file into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    by_id = {c.id: c for c in result.checks}
    files = {
        "report.json": json.dumps(result.as_dict(), indent=2, ensure_ascii=False, default=str),
        "summary.md": summary_markdown(result, lang=lang, titles=titles),
        "junit.xml": junit_xml(result),
        "findings.sarif": json.dumps(sarif(result), indent=2, ensure_ascii=False),
    }
    for name, kind, check_id, (scanner, label, tool) in _GITLAB_REPORTS:
        report = gitlab_report(
            result,
            by_id.get(check_id),
            kind=kind,
            scanner=(scanner, label, result.tools.get(tool, "unknown")),
        )
        files[name] = json.dumps(report, indent=2)
    written = []
    for name, text in files.items():
        path = out / name
        _write(path, text if text.endswith("\n") else text + "\n")
        written.append(path)
    return written
