"""Journey 3, night incident (shared/SCENARIOS.md), on the real engines `leitstand up` manages:

Alertmanager groups the portal's ``HighErrorRate`` alerts of two broker houses and posts the group
to leitstand; nobody acknowledges, so level 3 pages development and management by e-mail (a real
SMTP server, aiosmtpd) and opens one SEV-1 incident for both houses, detection and awareness from
the alert's ``startsAt``. A third house's alert joins the group. The commander works the phases (a
flag's kill switch and a real rollback of the portal on HAProxy in containment, which the post-
mortem shows as the release service's own evidence), the compliance officer classifies DORA "major"
per broker house through API and CLI (initial notification 4 h after classification, never later
than 24 h after awareness), the German drafts read as German, the GDPR 72-hour clock runs because
personal data was touched until the notification is recorded, the broker houses' notices go out by
mail, the intermediate and final reports follow the initial one, and the post-mortem tells only this
incident's story, with owned and dated action items. The store is PostgreSQL; timeouts are
shortened in the policy.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from leitstand.auth.model import Actor
from leitstand.bootstrap import build
from leitstand.releases.model import Phase
from leitstand.settings import Settings
from leitstand.testing import ServerProcess, free_port, postgres_schema, wait_for
from leitstand.testing.mail import SmtpSink
from support.gate_runs import gated_start
from support.releases_lab import ReleaseLab, short_dir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(
        shutil.which("prometheus-alertmanager") is None or shutil.which("prometheus") is None,
        reason="needs the Debian Prometheus packages",
    ),
]
PORTAL = "smart-bav-portal"
NORD, SUED, WEST = "example-makler-nord", "example-makler-sued", "example-vorsorge-west"
#: The seed's example tenants' contacts (policy/defaults/continuity.py).
CONTACTS = {
    NORD: "betrieb@makler-nord.example",
    SUED: "it@makler-sued.example",
    WEST: "service@vorsorge-west.example",
}
SNAKE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
DOTTED = re.compile(r"\b(?:flag|release|change|incident|alert|backups)\.[a-z_]+\b")
ENGLISH_NUMBER = re.compile(r"\b\d+\.0\b|\b\d{5,}\b|\b\d{1,3}(?:,\d{3})+\b")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
ENGLISH = ("complaints", "confidentiality", "initial", "final", "yes", "critical", "insurance")
#: The portal's releases in production before the night: 3.2.1 brought the 5xx, 3.1.2 was good.
GOOD, BAD = "3.1.2", "3.2.1"


def _policy(path: Path, smtp: SmtpSink, lab: ReleaseLab) -> Path:
    # The portal in production behind the lab's HAProxy: a release target leitstand drives.
    releases = yaml.safe_dump(lab.policy(blue_green={"rollback_window": "1s"}), sort_keys=False)
    path.write_text(
        releases
        + f"""
monitoring:
  stack: {{group_wait: 1s}}
incidents:
  # The portal's releases before the night lie days back in real life, here seconds before the
  # alert: a short lookback keeps them off the incident's timeline.
  response: {{timeline_lookback: 1s}}
alerting:
  ack_timeout: 5s
  dedup_window: 2s
  people:
    anna: {{name: Anna Ops, roles: [devops], email: anna@example.org}}
    carla: {{name: Carla Call, roles: [developer], email: carla@example.org}}
    eva: {{name: Eva Dev, roles: [developer], email: eva@example.org}}
    mario: {{name: Mario M, roles: [management], email: mario@example.org}}
  oncall: {{people: [carla]}}
  notifications:
    channels:
      email: {{smtp_host: 127.0.0.1, smtp_port: {smtp.port}, security: none}}
"""
    )
    return path


class Api:
    """leitstand's HTTP API as one named user."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def __call__(self, method: str, path: str, want: int = 200, **kw: Any) -> Any:
        answer = self.http.request(method, path, **kw)
        assert answer.status_code == want, f"{method} {path}: {answer.status_code} {answer.text}"
        ctype = answer.headers.get("content-type", "")
        return answer.json() if ctype.startswith("application/json") else answer.text


def _post(alertmanager: str, name: str, tenant: str, starts: datetime, **labels: str) -> None:
    alert = {
        "labels": {"alertname": name, "severity": "critical", "tenant": tenant, **labels},
        "annotations": {"summary": f"5xx über 5 % für {tenant}"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
    answer = httpx.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=10)
    assert answer.status_code == 200, answer.text


def _major(**overrides: Any) -> dict[str, Any]:
    """Facts a compliance officer records: critical services, > 10 % of clients, 2 states."""
    facts: dict[str, Any] = {
        "critical_services_affected": True,
        "malicious_unauthorised_access": False,
        "clients_affected": 15000,
        "clients_total": 100000,
        "financial_counterparts_affected_pct": 0,
        "transactions_number_affected_pct": 0,
        "transactions_value_affected_pct": 0,
        "relevant_clients_affected": False,
        "reputational_impact": ["complaints"],
        "duration_hours": 2,
        "critical_function_downtime_hours": 0,
        "member_states_affected": ["DE", "AT"],
        "data_loss": {
            "availability": False,
            "authenticity": False,
            "integrity": False,
            "confidentiality": True,
        },
        "economic_impact_eur": 0,
    }
    return {**facts, **overrides}


def _german(text: str, where: str) -> None:
    body = text
    for word in ("Post-Mortem", "Severity", "Timeline", "Root Cause", "Impact"):  # seed template
        body = body.replace(word, "")
    assert not SNAKE.findall(body), f"{where}: raw identifiers {SNAKE.findall(body)}"
    assert not DOTTED.findall(body), f"{where}: raw actions {DOTTED.findall(body)}"
    english = [w for w in ENGLISH if re.search(rf"\b{w}\b", body, re.IGNORECASE)]
    assert not english, f"{where}: English words {english}"
    assert not ENGLISH_NUMBER.findall(body), f"{where}: numbers {ENGLISH_NUMBER.findall(body)}"
    assert not ISO_DATE.findall(body), f"{where}: ISO dates {ISO_DATE.findall(body)}"


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink(free_port()) as sink:
        yield sink


@dataclass
class Night:
    """A running `leitstand up`, its Alertmanager and the environment its CLI needs."""

    server: ServerProcess
    alertmanager: str
    env: dict[str, str]
    lab: ReleaseLab
    settings: Settings
    clients: list[Api] = field(default_factory=list)

    def api(self, token: str) -> Api:
        client = Api(self.server.url, token)
        self.clients.append(client)
        return client

    def cli(self, token: str, *args: str) -> subprocess.CompletedProcess[str]:
        """``leitstand ARGS`` with ``token``, on the server's store (exit 0 expected)."""
        done = subprocess.run(
            [sys.executable, "-m", "leitstand", *args],
            env={**self.env, "LEITSTAND_TOKEN": token},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
        return done

    def released(self, *versions: str) -> None:
        """History before the night: each version released to production the usual way
        (approved change, passing gate run of its artifact, a second person's approval), the
        release followed by `leitstand release follow` next to the running `leitstand up`."""
        dev, officer = Actor("dana", "developer"), Actor("clara", "compliance_officer")
        starter, approver = Actor("olaf", "devops"), Actor("otto", "devops")
        c = build(self.settings)
        try:
            for version in versions:
                fields = {"what": version, "why": "Tarifrechner", "rollback": "vorige Version",
                          "tests": "alle"}  # fmt: skip
                change = c.changes.open(
                    service=PORTAL, version=version, category="normal", fields=fields, actor=dev
                )
                c.changes.decide(change_id=change.id, actor=officer, approve=True)
                info = gated_start(c, service=PORTAL, version=version, env="production",
                                   actor=starter, strategy="blue_green")  # fmt: skip
                c.releases.approve(release_id=info.id, actor=approver)
                followed = subprocess.run(
                    [sys.executable, "-m", "leitstand", "release", "follow", str(info.id),
                     "--timeout", "120", "--json"],
                    env=self.env, capture_output=True, text=True, timeout=180, check=False,
                )  # fmt: skip
                assert followed.returncode == 0, followed.stderr[-3000:]
                assert c.releases.get(info.id).phase is Phase.COMPLETED
        finally:
            c.close()


@pytest.fixture
def night(tmp_path: Path, smtp: SmtpSink) -> Iterator[Night]:
    """`leitstand up` on PostgreSQL with the Prometheus and Alertmanager it manages, and the
    portal's production release target: two slots of the demo app behind a real HAProxy."""
    home = tmp_path / ".leitstand"
    lab = ReleaseLab(short_dir(), service=PORTAL, envs=("production",))
    lab.homes.append(home)
    lab.versions.add(GOOD)
    lab.versions.add(BAD)
    with contextlib.ExitStack() as stack:
        stack.callback(lab.close)
        pg = stack.enter_context(postgres_schema())
        policy = _policy(tmp_path / "leitstand.yaml", smtp, lab)
        env = {
            "LEITSTAND_POLICY": str(policy),
            "LEITSTAND_DATABASE_URL": pg.url,
            "LEITSTAND_DATABASE_SCHEMA": pg.schema,
        }
        settings = Settings(
            home=home, database_url=pg.url, database_schema=pg.schema, policy=policy
        )
        server = ServerProcess(home=home, port=free_port(), env=env, managed_stack=True)
        clients: list[Api] = []
        try:
            server.wait_ready()
            found = re.search(r"Alertmanager (http://127\.0\.0\.1:\d+)", server.stdout())
            assert found, server.stdout()
            alertmanager = found.group(1)
            wait_for(
                "alertmanager ready",
                lambda: httpx.get(f"{alertmanager}/-/ready", timeout=2).status_code == 200,
            )
            base = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
            cli_env = {**base, **env, "LEITSTAND_HOME": str(home), "COLUMNS": "200"}
            yield Night(server, alertmanager, cli_env, lab, settings, clients)
        finally:
            for client in clients:
                client.http.close()
            code = server.stop()
            assert code == 0, server.stderr()[-3000:]


def _mailed(smtp: SmtpSink, needle: str) -> set[str]:
    return {r for m in smtp.mails if needle in m.subject for r in m.recipients}


def test_one_alert_group_becomes_one_sev1_reported_per_broker_house(
    night: Night, smtp: SmtpSink, tmp_path: Path
) -> None:
    alertmanager = night.alertmanager
    ops_token = night.server.token() or ""
    ops = night.api(ops_token)  # the first devops user: the commander
    clara_token = ops("POST", "/api/v1/users", 201, json={
        "name": "clara", "role": "compliance_officer"})["token"]  # fmt: skip
    clara = night.api(clara_token)
    # Before the night: the portal's 3.1.2, then 3.2.1 went to production (HAProxy switched).
    night.released(GOOD, BAD)
    [target] = ops("GET", "/api/v1/releases/services")
    assert (target["active_version"], target["previous_version"]) == (BAD, GOOD), target
    assert BAD in httpx.get(f"{night.lab.url}/", timeout=5).text  # HAProxy serves 3.2.1

    # The history lies before the incident's window (its 1 s lookback): wait until the clock has
    # passed the release's last evidence by more than the lookback (an event, not a pause).
    [last] = ops("GET", "/api/v1/audit/entries?action=release.*&limit=1")
    history_end = datetime.fromisoformat(last["time"])
    started = wait_for(
        "the release history to lie outside the incident's lookback",
        lambda: (
            now
            if (now := datetime.now(UTC).replace(microsecond=0)) - timedelta(seconds=1)
            > history_end
            else None
        ),
        interval=0.1,
    )

    # 1. Prometheus fires HighErrorRate for the portal, for two broker houses.
    for tenant in (NORD, SUED):
        _post(alertmanager, "HighErrorRate", tenant, started, service=PORTAL)
    # Another system's noise in the same night: never on this incident's timeline.
    _post(alertmanager, "HostCpuHigh", "", started, service="node-exporter", severity="warning")

    # 2. Nobody acknowledges: level 3 opens one SEV-1 for both houses and pages by mail.
    [incident] = wait_for(
        "one incident for the group",
        lambda: (i := ops("GET", "/api/v1/incidents")) and len(i[0]["tenants"]) == 2 and i,
        timeout=60,
    )
    iid = incident["id"]
    assert incident["severity"] == "SEV-1" and PORTAL in incident["systems"]
    assert sorted(incident["tenants"]) == [NORD, SUED]
    aware = _at(incident["aware_at"])
    assert aware == started  # from the alert's startsAt, not from the escalation
    assert incident["detected_at"] == incident["aware_at"]
    level2 = {"anna@example.org", "carla@example.org"}
    level3 = level2 | {"eva@example.org", "mario@example.org"}
    wait_for("level 2 mails", lambda: _mailed(smtp, "Stufe 2") >= level2, timeout=60)
    wait_for("level 3 mails", lambda: _mailed(smtp, "Stufe 3") >= level3, timeout=60)
    assert "mario@example.org" not in _mailed(smtp, "Stufe 2")  # management only at level 3
    wait_for(
        "the unrelated alert arrived too",
        lambda: any(a["name"] == "HostCpuHigh" for a in ops("GET", "/api/v1/alerts")),
        timeout=60,
    )

    # A third house's alert of the same group joins the incident.
    _post(alertmanager, "HighErrorRate", WEST, datetime.now(UTC), service=PORTAL)
    wait_for(
        "the third house joins",
        lambda: len(ops("GET", f"/api/v1/incidents/{iid}")["tenants"]) == 3,
        timeout=60,
    )
    assert [i["id"] for i in ops("GET", "/api/v1/incidents")] == [iid]

    # 3. The commander takes it and works containment, analysis, remediation.
    ops("POST", f"/api/v1/incidents/{iid}/acknowledge")
    ops("PATCH", f"/api/v1/incidents/{iid}", json={
        "commander": "olaf", "personal_data_affected": True,
        "impact": "Portal zwei Stunden gestört"})  # fmt: skip
    ops("POST", f"/api/v1/incidents/{iid}/phase", json={"phase": "containment"})
    ops("POST", "/api/v1/flags", 201, json={
        "key": "neues-dashboard", "type": "release", "reason": "Tarifrechner-Dashboard",
        "environments": {"production": {"enabled": True}}})  # fmt: skip
    ops("POST", "/api/v1/flags/neues-dashboard/kill", json={
        "environment": "production", "reason": "5xx im Portal"})  # fmt: skip
    ops("POST", f"/api/v1/incidents/{iid}/notes", 201, json={
        "text": "Flag neues-dashboard ausgeschaltet"})  # fmt: skip
    # The portal goes back to 3.1.2 through leitstand: a real rollback on HAProxy.
    rolled = [
        json.loads(line)
        for line in night.cli(ops_token, "release", "rollback", PORTAL, "--env", "production",
                              "--reason", "5xx im Portal seit 3.2.1", "--json").stdout.splitlines()
        if line.startswith("{")
    ]  # fmt: skip
    rollback = rolled[-1]
    assert (rollback["kind"], rollback["version"], rollback["phase"]) == (
        "rollback", GOOD, Phase.COMPLETED.value), rollback  # fmt: skip
    [target] = ops("GET", "/api/v1/releases/services")
    assert target["active_version"] == GOOD, target
    served = httpx.get(f"{night.lab.url}/", timeout=5)
    assert served.status_code == 200 and GOOD in served.text, served.text

    # 4. DORA per broker house: major for all three, deadlines from classification/awareness.
    for tenant in (NORD, SUED):
        result = clara("PUT", f"/api/v1/incidents/{iid}/dora/{tenant}", json=_major())
        assert result["major"] is True, result
    # West's own awareness came 21 h before the alert (complaints the evening before): its
    # initial notification is due 24 h after that, earlier than 4 h after classification.
    west_aware = started - timedelta(hours=21)
    facts = tmp_path / "west.json"
    facts.write_text(json.dumps(_major(aware_at=west_aware.isoformat())))
    done = night.cli(clara_token, "incident", "assess", iid, "--tenant", WEST, "--input",
                     str(facts))  # fmt: skip
    assert done.stdout.startswith(f"{WEST}: major"), done.stdout
    assessed = clara("GET", f"/api/v1/incidents/{iid}/dora")
    assert sorted(a["tenant"] for a in assessed if a["major"]) == [NORD, SUED, WEST]
    detail = clara("GET", f"/api/v1/incidents/{iid}/detail")
    due = {(d["clock"], d["tenant"]): d for d in detail["deadlines"]}
    for a in assessed:
        classified = _at(a["classified_at"])
        awareness = west_aware if a["tenant"] == WEST else aware
        assert _at(a["aware_at"]) == awareness
        want = min(classified + timedelta(hours=4), awareness + timedelta(hours=24))
        initial = due[("dora_initial", a["tenant"])]
        assert _at(initial["due_at"]) == want and initial["open"] and not initial["overdue"]
    west = due[("dora_initial", WEST)]
    assert _at(west["due_at"]) == west_aware + timedelta(hours=24)  # the 24 h bound holds
    assert _at(due[("dora_initial", NORD)]["due_at"]) > _at(west["due_at"])  # 4 h after its class.
    gdpr = next(d for (clock, _), d in due.items() if clock == "gdpr")
    assert _at(gdpr["due_at"]) == aware + timedelta(hours=72) and gdpr["open"]

    # German drafts, ready to send: initial notification per house and the GDPR notification.
    for tenant in (NORD, SUED, WEST):
        text = clara("GET", f"/api/v1/incidents/{iid}/dora/{tenant}/reports/initial",
                     params={"format": "markdown"})  # fmt: skip
        _german(text, f"initial {tenant}")
        assert "Durchführungsverordnung (EU) 2025/302" in text and "# DORA-Erstmeldung" in text
    gdpr_text = clara("GET", f"/api/v1/incidents/{iid}/gdpr/draft")
    _german(gdpr_text, "gdpr")
    assert "| Meldung erfolgt | Nein, noch offen |" in gdpr_text

    # The broker houses' notices: German drafts, released by the compliance officer, mailed.
    notices = clara("GET", f"/api/v1/incidents/{iid}/notices")
    assert sorted(n["tenant"] for n in notices) == [NORD, SUED, WEST]
    for tenant in (NORD, SUED, WEST):
        clara("POST", f"/api/v1/incidents/{iid}/notices/{tenant}/release")
    wait_for(
        "notices mailed to the houses",
        lambda: {r for m in smtp.mails for r in m.recipients} >= set(CONTACTS.values()),
        timeout=60,
    )

    [notice] = [m for m in smtp.mails if CONTACTS[NORD] in m.recipients]
    body = notice.text()
    assert iid in notice.subject + body and len(body.splitlines()) > 3, body  # lines kept
    _german(body, "notice")

    # 5. The reports follow each other: initial submitted, then the intermediate, then the final.
    for stage, title in (("initial", "Zwischenmeldung"), ("intermediate", "Abschlussmeldung")):
        clara("POST", f"/api/v1/incidents/{iid}/dora/{NORD}/reports/{stage}/submit", 201,
              json={"reference": f"BaFin-2026-{len(stage)}"})  # fmt: skip
        nxt = "intermediate" if stage == "initial" else "final"
        text = clara("GET", f"/api/v1/incidents/{iid}/dora/{NORD}/reports/{nxt}",
                     params={"format": "markdown"})  # fmt: skip
        _german(text, f"{nxt} {NORD}")
        assert f"# DORA-{title}" in text and f"BaFin-2026-{len(stage)}" in text  # 3.1
        assert "| 3.4 | Anzahl der betroffenen Kunden | 15.000 |" in text
        [measures] = [line for line in text.splitlines() if line.startswith("| 3.33 |")]
        assert measures.count("neues-dashboard") == 1, measures  # the kill switch, once

    # 6. Recovery, follow-up, action items with owners and due dates, the post-mortem.
    ops("POST", f"/api/v1/incidents/{iid}/phase", json={"phase": "analysis"})
    ops("POST", f"/api/v1/incidents/{iid}/phase", json={"phase": "remediation"})
    ops("PATCH", f"/api/v1/incidents/{iid}", json={"root_cause": "Fehlerhafte Konfiguration"})
    ops("POST", f"/api/v1/incidents/{iid}/phase", json={"phase": "follow_up"})
    for title, owner, due_date in (
        ("Konfiguration prüfen", "DevOps", date(2027, 1, 8)),
        ("Canary-Schwelle senken", "Entwicklung", date(2027, 1, 15)),
    ):
        ops("POST", f"/api/v1/incidents/{iid}/actions", 201, json={
            "title": title, "owner": owner, "due_date": due_date.isoformat()})  # fmt: skip
    actions = ops("GET", f"/api/v1/incidents/{iid}/detail")["actions"]
    assert [(a["owner"], a["due_date"]) for a in actions] == [
        ("DevOps", "2027-01-08"),
        ("Entwicklung", "2027-01-15"),
    ]
    night.cli(clara_token, "incident", "gdpr-notified", iid)  # the authority was notified
    [gdpr] = [d for d in ops("GET", f"/api/v1/incidents/{iid}/detail")["deadlines"]
              if d["clock"] == "gdpr"]  # fmt: skip
    assert gdpr["met_at"] and not gdpr["open"] and not gdpr["late"], gdpr
    markdown = ops("POST", f"/api/v1/incidents/{iid}/postmortem")["markdown"]
    assert re.search(r"DSGVO-Meldung erfolgt:\*\* Ja, \d\d\.\d\d\.\d{4}, \d\d:\d\d MEZ", markdown)
    _german(markdown, "post-mortem")
    timeline = markdown.split("### Timeline")[1].split("### Root Cause")[0]
    lines = [line for line in timeline.splitlines() if line.startswith("- ")]
    assert "HighErrorRate" in timeline and "HostCpuHigh" not in timeline
    assert "Phase: Eindämmung" in timeline and "Notiz: Flag neues-dashboard" in timeline
    # The rollback is the release service's own evidence on the curated timeline, not a note.
    decided = f"Rollback {PORTAL} {GOOD} (Rollback beschlossen)"
    [rollback_line] = [x for x in lines if decided in x]
    assert "Notiz" not in rollback_line, rollback_line
    [evidence] = [
        e for e in ops("GET", f"/api/v1/incidents/{iid}/timeline")
        if e["action"] == "release.rollback_decided" and e["subject"] == f"release:{rollback['id']}"
    ]  # fmt: skip
    assert (evidence["kind"], evidence["system"]) == ("rollback", PORTAL), evidence
    assert evidence["actor"] == rollback["requested_by"], evidence
    assert lines.index(rollback_line) > next(
        i for i, x in enumerate(lines) if "Phase: Eindämmung" in x
    )  # taken in containment
    assert sum("neues-dashboard: per Notschalter abgeschaltet" in x for x in lines) == 1, timeline
    # The rollback's own evidence (its release and change), none of the releases before the night.
    rollback_lines = [x for x in lines if PORTAL in x or "Änderung " in x]
    assert "change:" not in timeline, timeline  # subjects as people read them ("Änderung 2")
    assert all(f"{PORTAL} {GOOD}" in x or "Änderung " in x for x in rollback_lines), timeline
    assert not [x for x in rollback_lines if "eröffnet" in x or "genehmigt" in x], timeline
    assert any("umgeschaltet" in x for x in rollback_lines), timeline  # HAProxy switched back
    assert len(rollback_lines) <= 12, timeline
    assert len(lines) - len(rollback_lines) < 30, timeline
    assert [x[2:7] for x in lines] == sorted(x[2:7] for x in lines)
    assert "| 1 | Konfiguration prüfen | DevOps | 08.01.2027 |" in markdown
    assert "| 2 | Canary-Schwelle senken | Entwicklung | 15.01.2027 |" in markdown
