"""Journey 1, release day (shared/SCENARIOS.md), driven through the command line as its people
would, on real HAProxy, the Prometheus leitstand manages, and PostgreSQL:

a developer opens the change for enterprise-api 2.4.0; the compliance officer approves it (the
requester may not: four eyes); CI runs the real quality gates (build, test, security,
compliance) on the project; DevOps starts the canary with the gate's artifact digest and a
second DevOps engineer approves the production release; the canary walks 5 -> 25 -> 50 -> 100
with analyses measured on the managed Prometheus; the new feature's flag goes on for two broker
houses; the handover checklist is checked with evidence; the change log tells the whole story.

The compliance stage checks that the change is approved, so the approval comes before the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from leitstand.releases.model import Phase
from support.gates_lab import clean_project, osv_folder, wheelhouse
from support.releases_lab import LoadLoop, wait_scraped

if TYPE_CHECKING:
    from conftest import Journey  # the fixture's type (tests/journeys/conftest.py)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SERVICE = "enterprise-api"
ENV = "production"
PILOTS = ("example-makler-nord", "example-makler-sued")
OTHER = "example-makler-west"  # the third broker house of the journey's policy


def _project(root: Path) -> tuple[Path, Path]:
    """The service's code as CI checks it out: the clean fixture project as enterprise-api 2.4.0,
    with its local wheels (pip runs offline)."""
    wheels = wheelhouse(root / "wheels")
    project = clean_project(root / "enterprise-api", osv=osv_folder(root / "osv"))
    for name, old, new in (
        ("pyproject.toml", 'name = "demo-app"', f'name = "{SERVICE}"'),
        ("pyproject.toml", 'version = "1.0.0"', 'version = "2.4.0"'),
        ("CHANGELOG.md", "[1.0.0]", "[2.4.0]"),
        ("leitstand.yaml", "service: demo-app", f"service: {SERVICE}"),
    ):
        path = project / name
        text = path.read_text()
        assert old in text, (name, old)
        path.write_text(text.replace(old, new))
    return project, wheels


def test_release_day_from_change_to_handover(journey: Journey, tmp_path: Path) -> None:
    j, lab, c = journey, journey.lab, journey.container
    lab.versions.add("2.3.0")
    lab.versions.add("2.4.0")
    j.released("2.3.0")  # what production runs before the day starts
    project, wheels = _project(tmp_path / "ci")

    # 1. The developer opens a normal change: what, why, rollback plan, tests.
    change = j.json(
        j.cli(
            "dana", "change", "open", "--service", SERVICE, "--version", "2.4.0",
            "--category", "normal", "--what", "BAV-Export v2 hinter Flag bav-export-v2",
            "--why", "Anforderung der Maklerhäuser", "--rollback", "Rollback auf 2.3.0",
            "--tests", "Unit, Integration, Mandantentrennung", "--json",
        )
    )  # fmt: skip
    cid = change["id"]
    assert change["status"] == "pending" and change["requester"] == "dana"

    # 3. Four eyes: the requester cannot approve; the compliance officer does.
    refused = j.cli("dana", "change", "approve", str(cid), ok=False)
    assert refused.returncode != 0 and "dana" in refused.stderr
    approved = j.json(j.cli("clara", "change", "approve", str(cid), "--json"))
    assert approved["status"] == "approved" and approved["approved_by"] == ["clara"]

    # 2. CI runs every gate on the project; the run is evidence tied to the change and artifact.
    gate = j.cli(
        "ci-runner", "gate", "run", str(project), "--find-links", str(wheels), "--no-index",
        "--change", str(cid), "--json",
    )  # fmt: skip
    report = j.json(gate)
    assert report["status"] == "pass" and report["change_id"] == cid
    assert [s["stage"] for s in report["stages"]] == ["build", "test", "security", "compliance"]
    assert all(s["status"] == "pass" for s in report["stages"])
    digest = (project / "gate-report" / "artifact.env").read_text().strip().split("=", 1)[1]
    (run,) = c.gates.recorded(version="2.4.0")
    assert run.change_id == cid and digest in run.artifact_digests and run.actor == "ci-runner"

    # 4. DevOps starts the canary with the gate's artifact; another DevOps engineer approves it.
    load = LoadLoop(lab.url, threads=3).start()
    try:
        load.wait_for(200)
        started = j.lines(
            j.cli(
                "olaf", "release", "start", SERVICE, "2.4.0", "--env", ENV, "--strategy",
                "canary", "--artifact-digest", digest, "--json",
            )
        )  # fmt: skip
        info = started[-1]
        rid = info["id"]
        assert info["phase"] == Phase.AWAITING_APPROVAL.value and info["change_id"] == cid
        own = j.cli("olaf", "release", "approve", str(rid), ok=False)
        assert own.returncode != 0 and "approve" in own.stderr
        events = j.lines(j.cli("otto", "release", "approve", str(rid), "--json"))
        before = len(load.results)
        load.wait_for(before + 100)
    finally:
        load.stop()
    done = events[-1]
    assert done["phase"] == Phase.COMPLETED.value, json.dumps(events[-5:])
    assert done["approved_by"] == "otto" and done["requested_by"] == "olaf"
    # The canary walked 5 -> 25 -> 50 -> 100, streamed live as JSON lines.
    walked = [e["payload"]["percent"] for e in events if e["event"] == "release.weight_set"]
    (switched,) = [e["payload"] for e in events if e["event"] == "release.switched"]
    walked.append(switched["routing"]["weights"][switched["slot"]])
    assert walked == [5, 25, 50, 100], walked
    # Each analysis measured real values on the Prometheus leitstand manages.
    analyses = c.releases.analysis_list(rid)
    assert [a.weight for a in analyses] == [5, 25, 50], analyses
    for analysis in analyses:
        assert analysis.verdict == "pass", analysis
        for measured in (analysis.canary, analysis.stable):
            assert measured["error"] is None and measured["requests"] >= 20, analysis
            assert measured["error_rate"] == 0 and measured["p95_ms"] is not None, analysis
    (target,) = c.releases.targets()
    assert target.active_version == "2.4.0" and target.previous_version == "2.3.0"
    assert {v for _s, _e, _st, v in load.failed} == set(), load.failed[:5]
    assert {"2.3.0", "2.4.0"} <= set(load.versions())

    # 5. The new feature stays behind a flag, on for two broker houses first.
    j.cli(
        "dana", "flags", "create", "bav-export-v2", "--type", "release",
        "--description", "BAV-Export v2", "--owner", "dana",
    )  # fmt: skip
    add = [arg for tenant in PILOTS for arg in ("--add", tenant)]
    j.cli(
        "olaf", "flags", "tenants", "bav-export-v2", "--env", ENV, *add,
        "--reason", "Pilot mit zwei Maklerhäusern", "--change", str(cid),
    )  # fmt: skip
    for tenant, expected in ((PILOTS[0], True), (PILOTS[1], True), (OTHER, False)):
        _served, ((_key, resolution),) = c.flags.evaluate(
            environment=ENV, context={"tenantId": tenant}, flags=[("bav-export-v2", None)]
        )
        assert resolution.value is expected, (tenant, resolution)

    # 6. The handover checklist was checked when the release completed; checked again now that
    # the managed Prometheus scrapes production, each of the 9 items with its evidence.
    wait_scraped(j.prometheus, 1, labels='env="production"')
    handover = j.cli("olaf", "release", "handover", str(rid), "--check", "--json", ok=False)
    result = j.json(handover)
    items = {i["key"]: i for i in result["items"]}
    assert len(items) == 9
    for key in ("deployed_to_production", "health_checks_passed", "monitoring_active",
                "alerting_configured", "runbook_updated", "change_log_entry",
                "post_deployment_verification", "documentation_handed_over"):  # fmt: skip
        assert items[key]["ok"], items[key]
    assert items["deployed_to_production"]["evidence"]["active_version"] == "2.4.0"
    assert items["runbook_updated"]["evidence"]["gate_run"] == run.id
    assert items["change_log_entry"]["evidence"]["change_id"] == cid
    # This lab sets up no backups: that item fails, loudly, with an action item for its owner.
    assert result["failed"] == ["backup_covers_new_data"] and handover.returncode == 1
    assert items["backup_covers_new_data"]["task_id"] is not None

    # The change log (CLI, JSON) tells the whole story of change #cid, in order.
    log = j.json(j.cli("clara", "change", "log", "--change", str(cid), "--json"))
    actions = [row["action"] for row in log]
    assert {row["change_id"] for row in log} == {cid}

    def first(action: str) -> int:
        assert action in actions, (action, actions)
        return actions.index(action)

    story = ["change.opened", "change.approved", "gate.run", "release.started",
             "release.approved", "release.weight_set", "release.analysed", "release.switched",
             "release.completed", "release.handover_checked"]  # fmt: skip
    assert [first(a) for a in story] == sorted(first(a) for a in story), actions
    assert actions.count("release.analysed") == 3 and actions.count("release.weight_set") == 3
    switches = [row for row in log if row["action"].startswith("flag.")]
    # One row per broker house, after the release completed, by the person who switched.
    assert [r["action"] for r in switches] == ["flag.tenants_changed"] * 2, switches
    assert all(first("release.completed") < actions.index(r["action"]) for r in switches)
    assert {r["actor"] for r in switches} == {"olaf"}
    for tenant in PILOTS:
        (row,) = [r for r in switches if f"Mandant {tenant}" in r["detail"]]
        assert "Pilot mit zwei Maklerhäusern" in row["detail"] and row["version"] == "2.4.0"
    assert actions.count("release.handover_checked") == 2
    by = {row["action"]: row["actor"] for row in log}
    assert (by["change.opened"], by["change.approved"], by["gate.run"]) == (
        "dana",
        "clara",
        "ci-runner",
    )
    assert (by["release.started"], by["release.approved"]) == ("olaf", "otto")
    # Exportable, with the English switch: the auditor's Markdown names every part of the story.
    export = j.cli("clara", "change", "log", "--change", str(cid), "--format", "md", "--lang", "en")
    story_en = (
        "approved", "quality gates", "release started", "canary analysis", "traffic switched",
        "flag switched for tenants", "handover checklist",
    )  # fmt: skip
    for words in story_en:
        assert words in export.stdout, (words, export.stdout[-3000:])
