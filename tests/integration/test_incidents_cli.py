"""`leitstand incident` as a user runs it: classify's exact output and exit 2 on bad input,
and the response commands from open to post-mortem."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from leitstand.auth.model import SYSTEM_ACTOR, Role
from leitstand.bootstrap import build
from leitstand.settings import Settings
from leitstand.testing.cli import cli_env, run_cli

FACTS: dict[str, Any] = {
    "critical_services_affected": True,
    "malicious_unauthorised_access": False,
    "clients_affected": 150,
    "clients_total": 1000,
    "financial_counterparts_affected_pct": 0,
    "transactions_number_affected_pct": 0,
    "transactions_value_affected_pct": 0,
    "relevant_clients_affected": False,
    "reputational_impact": ["media"],
    "duration_hours": 2,
    "critical_function_downtime_hours": 0,
    "member_states_affected": ["DE"],
    "data_loss": {
        "availability": False,
        "authenticity": False,
        "integrity": False,
        "confidentiality": False,
    },
    "economic_impact_eur": 0,
}
# Friday 22:00 aware, classified Saturday 01:00: due Saturday 05:00 -> Monday 12:00 (weekend rule).
TIMES = {"aware_at": "2026-11-27T22:00:00+01:00", "classified_at": "2026-11-28T01:00:00+01:00"}


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Acting as a devops user (LEITSTAND_TOKEN); classifying stores nothing and needs no user.
    env = cli_env(home, role=None if args[:1] == ("classify",) else Role.DEVOPS, COLUMNS="200")
    return run_cli(["incident", *args], env=env, cwd=home.parent)


def _classify(tmp_path: Path, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "assessment.json"
    path.write_text(text, encoding="utf-8")
    return run(tmp_path / "home", "classify", "--input", str(path), *extra)


def test_classify_prints_the_specified_json_and_stores_nothing(tmp_path: Path) -> None:
    doc = FACTS | TIMES | {"entity_type": "insurance_intermediary"}
    result = _classify(tmp_path, json.dumps(doc), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data == {
        "major": True,
        "criteria_met": [
            "critical_services",
            "clients_counterparts_transactions",
            "reputational_impact",
        ],
        "reasons": data["reasons"],
        "deadlines": {"initial_notification": "2026-11-30T11:00:00Z"},
    }
    assert data["reasons"][0] == "Art. 6: kritische Dienste betroffen"
    assert not (tmp_path / "home").exists()


def test_classify_gives_later_deadlines_once_submissions_are_known(tmp_path: Path) -> None:
    doc = (
        FACTS
        | TIMES
        | {
            "entity_type": "credit_institution",  # no weekend rule for initial/intermediate
            "initial_notification_submitted_at": "2026-11-28T04:00:00+01:00",
            "intermediate_report_submitted_at": "2026-11-30T10:00:00+01:00",
        }
    )
    data = json.loads(_classify(tmp_path, json.dumps(doc), "--json", "--lang", "en").stdout)
    assert data["deadlines"] == {
        "initial_notification": "2026-11-28T04:00:00Z",
        "intermediate_report": "2026-12-01T03:00:00Z",
        "final_report": "2026-12-30T09:00:00Z",
    }
    assert data["reasons"][0] == "Art. 6: critical services affected"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("{not json", "line 1"),
        (json.dumps(FACTS | TIMES | {"severity": 1}), "severity: unknown key"),
        (
            json.dumps(FACTS | TIMES | {"clients_affected": -5}),
            "clients_affected: Input should be greater than or equal to 0",
        ),
        (
            json.dumps(FACTS | TIMES | {"aware_at": "2026-11-27T22:00:00"}),
            "aware_at: Input should have timezone info",
        ),
        (
            json.dumps({k: v for k, v in (FACTS | TIMES).items() if k != "duration_hours"}),
            "duration_hours: Field required",
        ),
        (json.dumps(FACTS | TIMES | {"reputational_impact": ["gossip"]}), "reputational_impact.0"),
    ],
    ids=["invalid-json", "unknown-key", "negative-count", "no-offset", "missing", "bad-enum"],
)
def test_bad_classify_input_exits_2_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    result = _classify(tmp_path, text)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert field in result.stderr


def test_response_commands_from_open_to_postmortem(tmp_path: Path) -> None:
    home = tmp_path / "home"
    opened = run(
        home,
        "open",
        "Portal 5xx",
        "--severity",
        "SEV-2",
        "--system",
        "smart-bav-portal",
        "--tenant",
        "example-makler-nord",
        "--json",
    )
    assert opened.returncode == 0, opened.stderr
    iid = json.loads(opened.stdout)["id"]
    skip = run(home, "phase", iid, "analysis")
    assert skip.returncode == 2 and "the next phase is containment" in skip.stderr
    for args in (
        ("ack", iid),
        ("phase", iid, "containment"),
        ("note", iid, "Rollback auf 2.4.0"),
        ("phase", iid, "analysis"),
        ("phase", iid, "remediation"),
        ("phase", iid, "follow_up"),
        (
            "action",
            "add",
            iid,
            "Canary-Analyse schärfen",
            "--owner",
            "devops",
            "--due",
            "2026-12-31",
        ),
        (
            "update",
            iid,
            "--set",
            "root_cause=Fehlerhafte Konfiguration",
            "--set",
            "impact=5xx für 20 min",
        ),
    ):
        result = run(home, *args)
        assert result.returncode == 0, (args, result.stderr)
    out = tmp_path / "pm.md"
    written = run(home, "postmortem", iid, "--out", str(out))
    assert written.returncode == 0, written.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith(f"## Post-Mortem – {iid}") and "Notiz: Rollback auf 2.4.0" in text
    pdf = tmp_path / "pm.pdf"
    printed = run(home, "postmortem", iid, "--format", "pdf", "--out", str(pdf))
    assert printed.returncode == 0, printed.stderr
    assert pdf.read_bytes().startswith(b"%PDF")
    refused = run(home, "postmortem", iid, "--format", "pdf")
    assert refused.returncode == 2 and "--out" in refused.stderr
    assert run(home, "close", iid).returncode == 0
    shown = json.loads(run(home, "show", iid, "--json").stdout)
    assert shown["incident"]["status"] == "closed"
    assert [a["title"] for a in shown["actions"]] == ["Canary-Analyse schärfen"]
    listed = run(home, "list")
    assert iid in listed.stdout


def test_times_correct_detection_and_awareness_with_a_reason(tmp_path: Path) -> None:
    home = tmp_path / "home"
    c = build(Settings(home=home))
    try:
        _user, token = c.auth.add_user(name="olaf", role=Role.DEVOPS, actor=SYSTEM_ACTOR)
    finally:
        c.close()
    opened = run(home, "open", "Portal 5xx", "--severity", "SEV-1", "--json", "--token", token)
    assert opened.returncode == 0, opened.stderr
    iid = json.loads(opened.stdout)["id"]
    bad = run(home, "times", iid, "--reason", " ", "--aware-at", "20m", "--token", token)
    assert bad.returncode == 2 and "reason" in bad.stderr
    backwards = run(
        home, "times", iid, "--reason", "x", "--detected-at", "1m", "--aware-at", "2m",
        "--token", token,
    )  # fmt: skip
    assert backwards.returncode == 2 and "aware_at" in backwards.stderr
    fixed = run(
        home,
        "times",
        iid,
        "--detected-at",
        "2026-11-27T08:40:00Z",
        "--aware-at",
        "2026-11-27T08:45:00Z",
        "--reason",
        "Kunde meldete 5xx um 09:45",
        "--token",
        token,
    )
    assert fixed.returncode == 0, fixed.stderr
    assert "aware 27.11.2026 09:45:00" in fixed.stdout
    # Every time the CLI prints names its zone (the policy's, here the seed's Europe/Berlin).
    assert "detected 27.11.2026 09:40:00 MEZ, aware 27.11.2026 09:45:00 MEZ" in fixed.stdout
    shown = json.loads(run(home, "show", iid, "--json").stdout)["incident"]
    assert (shown["detected_at"], shown["aware_at"]) == (
        "2026-11-27T08:40:00+00:00",
        "2026-11-27T08:45:00+00:00",
    )


def test_merge_closes_a_duplicate_with_a_reason(tmp_path: Path) -> None:
    home = tmp_path / "home"
    c = build(Settings(home=home))
    try:
        _user, token = c.auth.add_user(name="olaf", role=Role.DEVOPS, actor=SYSTEM_ACTOR)
    finally:
        c.close()
    ids = []
    for _ in range(2):
        opened = run(home, "open", "Portal 5xx", "--severity", "SEV-1", "--json", "--token", token)
        assert opened.returncode == 0, opened.stderr
        ids.append(json.loads(opened.stdout)["id"])
    survivor, duplicate = ids
    itself = run(home, "merge", duplicate, "--into", duplicate, "--reason", "x", "--token", token)
    assert itself.returncode == 2 and "itself" in itself.stderr
    empty = run(home, "merge", duplicate, "--into", survivor, "--reason", " ", "--token", token)
    assert empty.returncode == 2 and "reason" in empty.stderr
    merged = run(
        home, "merge", duplicate, "--into", survivor, "--reason", "eine Gruppe", "--token", token
    )
    assert merged.returncode == 0, merged.stderr
    assert f"{duplicate}: closed as duplicate of {survivor}" in merged.stdout
    shown = json.loads(run(home, "show", duplicate, "--json").stdout)["incident"]
    assert (shown["status"], shown["merged_into"]) == ("closed", survivor)


def test_classify_prints_deadlines_in_the_policy_zone_with_its_name(tmp_path: Path) -> None:
    doc = json.dumps(FACTS | TIMES | {"entity_type": "insurance_intermediary"})
    german = _classify(tmp_path, doc)
    assert german.returncode == 0, german.stderr
    assert "initial_notification: 2026-11-30T11:00:00Z (30.11.2026 12:00:00 MEZ)" in german.stdout
    english = _classify(tmp_path, doc, "--lang", "en")
    assert "initial_notification: 2026-11-30T11:00:00Z (30 Nov 2026 12:00:00 CET)" in (
        english.stdout
    )
    assert "Europe/Berlin" not in german.stdout + english.stdout  # no hard-coded zone name
    (tmp_path / "leitstand.yaml").write_text(
        "incidents:\n  calendar:\n    timezone: Europe/London\n", encoding="utf-8"
    )
    london = _classify(tmp_path, doc)
    assert london.returncode == 0, london.stderr
    assert re.search(
        r"initial_notification: \S+ \(\d\d\.\d\d\.2026 \d\d:\d\d:00 GMT\)", london.stdout
    )
    assert "MEZ" not in london.stdout and "CET" not in london.stdout


def test_response_commands_print_times_in_the_policy_zone(tmp_path: Path) -> None:
    (tmp_path / "leitstand.yaml").write_text(
        "incidents:\n  calendar:\n    timezone: Europe/London\n", encoding="utf-8"
    )
    home = tmp_path / "home"
    opened = run(home, "open", "Portal 5xx", "--severity", "SEV-2", "--json")
    assert opened.returncode == 0, opened.stderr
    iid = json.loads(opened.stdout)["id"]
    fixed = run(
        home, "times", iid, "--detected-at", "2026-11-27T08:40:00Z",
        "--aware-at", "2026-11-27T08:45:00Z", "--reason", "Kunde meldete 5xx",
    )  # fmt: skip
    assert fixed.returncode == 0, fixed.stderr
    assert "detected 27.11.2026 08:40:00 GMT, aware 27.11.2026 08:45:00 GMT" in fixed.stdout
    shown = run(home, "show", iid)
    assert shown.returncode == 0, shown.stderr
    stamp = r"\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d GMT"
    assert re.search(rf"^  {stamp}  ", shown.stdout, re.MULTILINE), shown.stdout  # timeline
    assert re.search(rf": {stamp}$", shown.stdout, re.MULTILINE), shown.stdout  # deadlines
    listed = run(home, "list")
    assert re.search(stamp, listed.stdout), listed.stdout
    for out in (fixed.stdout, shown.stdout, listed.stdout):
        assert "MEZ" not in out and "Europe/Berlin" not in out
