"""The handover checklist is checked after a production release against live state (real
instances, the Prometheus leitstand manages, the change log, the gate's records), each item with
its evidence; a failing item opens an action item for its owner, which closes when it passes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from leitstand.app import create_app
from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import build
from leitstand.errors import ConflictError
from leitstand.ledger.service import EntryQuery
from leitstand.policy.loader import load_policy_text
from leitstand.releases.model import Phase
from leitstand.settings import Settings
from support.gate_runs import gated_start
from support.releases_lab import ReleaseLab, drive, managed_stack, short_dir, wait_scraped

DEV = Actor(name="dana", role="developer")
OPS = Actor(name="olaf", role="devops")
OPS2 = Actor(name="otto", role="devops")
OFFICER = Actor(name="clara", role="compliance_officer")
FIELDS = {"what": "new endpoint", "why": "broker request", "rollback": "redeploy", "tests": "e2e"}
SERVICE = "enterprise-api"


def test_after_a_production_release_the_checklist_is_checked_with_evidence(
    tmp_path: Path,
) -> None:
    lab = ReleaseLab(short_dir(), router="kubernetes", envs=("staging", "production"))
    lab.versions.add("1.0.0")
    home = tmp_path / "home"
    lab.homes.append(home)
    overlay = lab.policy()
    overlay["monitoring"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    overlay["alerting"] = {
        "people": {
            "otto": {"name": "Otto", "roles": ["devops"], "email": "otto@example.org"},
            "pia": {"name": "Pia", "roles": ["product_owner"], "email": "pia@example.org"},
        },
        "oncall": {"people": ["otto"]},
    }
    c = build(Settings(home=home), migrate=True, policy=load_policy_text(yaml.safe_dump(overlay)))
    stack = None
    try:
        stack = managed_stack(c)
        staging = drive(c, gated_start(c, service=SERVICE, version="1.0.0", env="staging",
                                       actor=OPS).id)  # fmt: skip
        with pytest.raises(ConflictError, match="no completed production release"):
            c.releases.handover_report(release_id=staging.id)
        change = c.changes.open(
            service=SERVICE, version="1.0.0", category="normal", fields=FIELDS, actor=DEV
        )
        c.changes.decide(change_id=change.id, actor=OFFICER, approve=True)
        info = gated_start(c, service=SERVICE, version="1.0.0", env="production", actor=OPS)
        c.releases.approve(release_id=info.id, actor=OPS2)
        done = drive(c, info.id, timeout=90)
        assert done.phase is Phase.COMPLETED
        c.scheduler.run_due()  # the checklist's timer, due when the release completed
        first = c.releases.handover_report(release_id=info.id, check_if_missing=False)
        items = {i.key: i.model_dump(mode="json") for i in first.items}
        assert len(items) == 9 and not first.passed
        for key in ("deployed_to_production", "health_checks_passed", "change_log_entry",
                    "runbook_updated", "post_deployment_verification",
                    "documentation_handed_over", "alerting_configured"):  # fmt: skip
            assert items[key]["ok"], items[key]
        assert items["deployed_to_production"]["evidence"]["active_version"] == "1.0.0"
        assert "HTTP 200" in items["health_checks_passed"]["detail"]
        assert items["change_log_entry"]["evidence"]["change_id"] == change.id
        assert items["documentation_handed_over"]["evidence"]["recipients"] == ["pia"]
        assert items["alerting_configured"]["evidence"]["oncall"] == "otto"
        assert items["alerting_configured"]["evidence"]["rule_files"]
        # No backup is set up for the system: an action item for its owner, due in 2 days.
        backup = items["backup_covers_new_data"]
        assert not backup["ok"] and "no backup configuration" in backup["detail"]
        tasks = {t.id: t for t in c.releases.task_list(status="open")}
        task = tasks[backup["task_id"]]
        assert task.kind == "handover" and task.owner == "devops"
        assert "[backup_covers_new_data]" in task.title
        # Monitoring: passes once the managed Prometheus scrapes the production slot; checked
        # again, its action item (if the first check came too early) is closed.
        (prod,) = [t for t in c.releases.targets() if t.env == "production"]
        assert prod.active_slot is not None
        serving = f'env="production",instance="127.0.0.1:{lab.ports[prod.active_slot]}"'
        wait_scraped(stack.components["prometheus"].url, 1, labels=serving)
        again = c.releases.handover_report(release_id=info.id, check=True)
        items = {i.key: i.model_dump(mode="json") for i in again.items}
        assert items["monitoring_active"]["ok"], items["monitoring_active"]
        assert again.failed == ["backup_covers_new_data"]
        assert items["backup_covers_new_data"]["task_id"] == backup["task_id"]  # not twice
        open_handover = [t for t in c.releases.task_list(status="open") if t.kind == "handover"]
        assert [t.id for t in open_handover] == [backup["task_id"]]
        with c.db.reader() as session:
            checked = c.ledger.entries(session, EntryQuery(action="release.handover_checked"))
        assert len(checked) == 2 and checked[0].payload["failed"] == ["backup_covers_new_data"]
        # The API and the release page show it.
        _user, token = c.auth.add_user(name="ann", role=Role.AUDITOR, actor=OPS)
        with TestClient(create_app(c), base_url="http://127.0.0.1") as client:
            shown = client.get(
                f"/api/v1/releases/{info.id}/handover",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert shown.status_code == 200 and shown.json()["failed"] == again.failed
            refused = client.post(
                f"/api/v1/releases/{info.id}/handover",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert refused.status_code == 403
    finally:
        c.close()
        if stack is not None:
            stack.stop()
        lab.close()
