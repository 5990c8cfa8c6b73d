"""Journey 4, quarterly proof (shared/SCENARIOS.md), on a real PostgreSQL cluster with real
pgBackRest and restic (support.backups_lab' scratch system):

the PITR drill, requested through the API (an impossible target is a 422 naming why) and run by
the scheduler, restores the database to a point 3 hours ago into a segregated scratch cluster,
checks the exact rows and checksums, measures its duration against the system's RTO and files the
Testprotokoll; the file backup that missed its second site turns the system's RPO row red on the
overview with an RPO alert open; the auditor (read-only token) downloads the quarter from the API
and verifies it offline with the ledger's key pinned (exit 0); one changed entry fails (exit 1).

The database's history spans 3 hours for real: the source cluster runs under libfaketime 3 hours
behind while its full backup is taken and the early rows are written and archived, then restarts on
the real clock and writes tonight's rows; the drill restores to a moment 3 hours ago.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from leitstand.app import create_app
from leitstand.auth.model import SYSTEM_ACTOR, Actor, Role
from leitstand.ledger.service import EntryQuery
from leitstand.policy.model import Policy, default_policy
from support.backups_lab import LabSystem, backup_lab
from support.gate_runs import record_gate_run

#: libfaketime (Debian package ``faketime``): the source cluster's clock 3 hours behind.
FAKETIME = next(iter(Path("/usr/lib").glob("*/faketime/libfaketime.so.1")), None)
THREE_HOURS_AGO = {
    "LD_PRELOAD": str(FAKETIME),
    "FAKETIME": "-3h",
    "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # timeouts and waits keep the real pace
}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
]
OPS = Actor(name="olaf", role="devops")
DEV = Actor(name="dana", role="developer")
OFFICER = Actor(name="clara", role="compliance_officer")
CHANGE = {"what": "Suche", "why": "Quartal", "rollback": "1.3.0", "tests": "alle"}
SCHEMA = """
CREATE TABLE contracts (id int PRIMARY KEY, amount numeric(12, 2) NOT NULL);
INSERT INTO contracts SELECT g, g * 1.5 FROM generate_series(1, 2000) AS g;
CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    what text NOT NULL
);
"""


def _policy() -> Policy:
    data = default_policy().model_dump(mode="json")
    data["backups"]["drills"]["timeout"] = "2m"
    return Policy.model_validate(data)


def _verify(export: Path, key: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``leitstand audit verify --export`` on a machine without leitstand's store (offline)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    env["LEITSTAND_HOME"] = str(cwd / "no-installation")
    done = subprocess.run(
        [sys.executable, "-m", "leitstand", "audit", "verify", "--export", str(export),
         "--key", str(key)],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def _actions(lab: LabSystem, action: str) -> list[dict[str, object]]:
    with lab.container.db.reader() as session:
        found = lab.container.ledger.entries(session, EntryQuery(action=action, limit=1000))
    return [e.as_dict() for e in found]


def test_drill_red_second_site_and_the_auditors_offline_proof(tmp_path: Path) -> None:
    # The three hours of history are real only under libfaketime: missing, it is a failure, not
    # a skip (scripts/test installs the Debian faketime package).
    assert FAKETIME is not None, "libfaketime not found: install the Debian package faketime"
    database = {"pitr_check": {"table": "audit_log", "time_column": "created_at",
                               "key_column": "id"}}  # fmt: skip
    home = tmp_path / "home"
    with backup_lab(home=home, base=_policy(), database=database, environ=THREE_HOURS_AGO) as lab:
        c = lab.container
        # 3 hours ago (the cluster's clock): the schema, the full backup, the day's first rows.
        past = lab.sql("SELECT clock_timestamp()")[0][0]
        assert (
            timedelta(hours=2, minutes=59)
            < datetime.now(UTC) - past
            < timedelta(hours=3, minutes=1)
        )
        lab.sql(SCHEMA)
        assert lab.backup("database_full").status == "succeeded"
        for what in ("login anna", "export contracts", "login ben"):
            lab.sql("INSERT INTO audit_log (what) VALUES (%s)", (what,))
        target = lab.sql("SELECT clock_timestamp()")[0][0]
        lab.sql("SELECT pg_sleep(0.2)")
        lab.sql("INSERT INTO audit_log (what) VALUES ('nach dem Zielzeitpunkt')")
        lab.archive_now()
        # Back on the real clock: tonight's rows, 3 hours after the target.
        lab.restart_source()
        now = lab.sql("SELECT clock_timestamp()")[0][0]
        assert abs(now - datetime.now(UTC)) < timedelta(minutes=1)
        for what in ("login carla", "export tarife"):
            lab.sql("INSERT INTO audit_log (what) VALUES (%s)", (what,))
        lab.archive_now()
        expected = lab.sql("SELECT count(*) FROM audit_log WHERE created_at <= %s", (target,))
        assert expected == [(3,)]
        assert timedelta(hours=2, minutes=55) < now - target < timedelta(hours=3, minutes=5)

        # The second site of the file backups is unreachable tonight (its repository is gone).
        repo = lab.root / "sites" / "secondary" / "restic" / f"{lab.system}-files"
        shutil.rmtree(repo)
        repo.write_text("not a repository\n")
        files = lab.backup("files")
        assert files.status != "succeeded" and "secondary" in (files.error or ""), files

        auditor_token = c.auth.add_user(name="ada", role=Role.AUDITOR, actor=SYSTEM_ACTOR)[1]
        ops_token = c.auth.add_user(name="olaf", role=Role.DEVOPS, actor=SYSTEM_ACTOR)[1]
        auditor = {"Authorization": f"Bearer {auditor_token}"}
        ops = {"Authorization": f"Bearer {ops_token}"}
        with TestClient(create_app(c)) as client:
            # 1. The PITR drill, requested through the API and run by the scheduler: a point in
            # time 3 hours ago, restored into a segregated scratch cluster, exact rows and
            # checksums.
            future = {"kind": "pitr", "system": lab.system,
                      "target": (target + timedelta(days=1)).isoformat()}  # fmt: skip
            refused = client.post("/api/v1/backups/drills", json=future, headers=ops)
            assert refused.status_code == 422, refused.text  # impossible: named before 202
            [issue] = refused.json()["issues"]
            assert issue["path"] == "target" and "outside the recovery window" in issue["message"]
            asked = {"kind": "pitr", "system": lab.system, "target": target.isoformat()}
            queued = client.post("/api/v1/backups/drills", json=asked, headers=ops)
            assert queued.status_code == 202, queued.text
            assert c.scheduler.run_due(limit=50) >= 1
            assert c.scheduler.leases.drain(timeout=120)
            [listed] = client.get("/api/v1/backups/drills", headers=auditor).json()
            drill = c.drills.get(listed["id"])
            protocol = drill.protocol or {}
            assert (drill.status, drill.trigger) == ("passed", "api"), protocol.get("checks")
            checks = {check["name"]: check for check in protocol["checks"]}
            assert checks["pitr_rows"]["values"]["restored"] == expected[0][0]
            assert checks["pitr_no_later_rows"]["values"]["rows"] == 0
            assert checks["checksums"]["ok"] and protocol["target_time"] == target.isoformat()
            assert protocol["scratch"]["port"] != lab.cluster.port  # segregated, not the source
            assert protocol["scratch"]["archive_mode"] == "off"
            service = lab.policy.services[lab.system]
            assert drill.rto_seconds == service.rto.total_seconds()
            assert drill.total_seconds is not None and drill.within_rto is True
            assert 0 < drill.total_seconds <= drill.rto_seconds
            [filed] = [e for e in _actions(lab, "backups.drill.passed")
                       if e["subject"] == f"drill:{drill.id}"]  # fmt: skip
            markdown = filed["payload"]["markdown"]  # type: ignore[index]
            assert markdown.startswith("# Testprotokoll – Point-in-Time-Recovery")
            assert "| Ergebnis | **BESTANDEN** |" in markdown and "RTO" in markdown

            # 2. RPO on the overview: every system listed; the missed second site makes it red.
            objectives = {o.system: o for o in c.backup_monitor.measure(actor=OPS)}
            mine = objectives[lab.system]
            assert mine.rpo_status == "breach"
            assert mine.rpo_reason == "files: no file backup on both sites yet"
            page = client.get("/", headers=auditor)
            assert page.status_code == 200, page.text
            table = page.text.split('data-testid="recovery-objectives"')[1].split("</table>")[0]
            rows = dict(re.findall(r'data-system="([^"]+)".*?data-status="([^"]+)"', table, re.S))
            assert set(rows) >= set(lab.policy.services), rows  # every system of the policy
            assert rows[lab.system] == "breach"
            alerts = client.get("/api/v1/alerts", headers=ops).json()
            [rpo] = [a for a in alerts if a["name"] == "RpoBreach"]
            assert (rpo["service"], rpo["status"], rpo["severity"]) == (
                lab.system,
                "firing",
                "critical",
            )

            # The rest of the quarter's evidence: a change with its gate run, a flag switch, an
            # incident (the drill, the backups and the RPO alert are recorded above).
            change = c.changes.open(service=lab.system, version="1.4.0", category="normal",
                                    fields=CHANGE, actor=DEV)  # fmt: skip
            c.changes.decide(change_id=change.id, actor=OFFICER, approve=True)
            record_gate_run(c, service=lab.system, version="1.4.0", change_id=change.id)
            for path, body in (
                ("/api/v1/flags", {"key": "neue-suche", "type": "release", "reason": "Q4",
                                   "environments": {"production": {"enabled": True}}}),
                ("/api/v1/flags/neue-suche/toggle", {"environment": "production",
                                                     "enabled": False, "reason": "Q4"}),
                ("/api/v1/incidents", {"title": "Sicherung Zweitstandort", "severity": "SEV-3",
                                       "systems": [lab.system]}),
            ):  # fmt: skip
                done = client.post(path, json=body, headers=ops)
                assert done.status_code in (200, 201), done.text

            # 3. The auditor downloads the quarter and verifies it offline, the key pinned.
            got = client.get(
                "/api/v1/audit/export",
                params={"since": "2026-10-01T00:00:00", "tz": "Europe/Berlin"},
                headers=auditor,
            )
            assert got.status_code == 200, got.text
            key = client.get("/api/v1/audit/checkpoint", headers=auditor).json()["verifier_key"]
            refused = client.get("/api/v1/audit/export", headers={
                "Authorization": f"Bearer {ops_token}"})  # fmt: skip
            assert refused.status_code == 403  # the export is the auditor's (and compliance's)
    with tarfile.open(fileobj=io.BytesIO(got.content), mode="r:gz") as tar:
        tar.extractall(tmp_path / "download", filter="data")
    [export] = list((tmp_path / "download").iterdir())
    pinned = tmp_path / "ledger.vkey"
    pinned.write_text(key + "\n")
    entries = [json.loads(line) for line in (export / "entries.jsonl").read_text().splitlines()]
    actions = {e["action"] for e in entries}
    assert {"backups.run.succeeded", "backups.drill.passed", "backups.rpo.breached"} <= actions
    kinds = {a.split(".")[0] for a in actions}
    assert {"change", "gate", "flag", "alert", "incident", "backups"} <= kinds, sorted(actions)
    verified = _verify(export, pinned, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "ledger intact" in verified.stdout and "UNPINNED" not in verified.stdout

    # One changed entry (and a manifest made to match) no longer proves against the signature.
    lines = (export / "entries.jsonl").read_text().splitlines()
    index = next(i for i, e in enumerate(entries) if e["action"] == "backups.drill.passed")
    lines[index] = lines[index].replace('"passed"', '"failed"', 1)
    assert lines[index] != json.dumps(entries[index])
    (export / "entries.jsonl").write_text("\n".join(lines) + "\n")
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["sha256"]["entries.jsonl"] = hashlib.sha256(
        (export / "entries.jsonl").read_bytes()
    ).hexdigest()
    (export / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    tampered = _verify(export, pinned, tmp_path)
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    assert f"first bad index {entries[index]['index']}" in tampered.stdout + tampered.stderr
