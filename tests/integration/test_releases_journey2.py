"""Journey 2 (bad release) on real HAProxy, the Prometheus leitstand manages, and PostgreSQL:
the canary's 5xx rate fails the first analysis, traffic goes back at once, people are told, the
change log and a root-cause task record it; a later manual rollback goes to the last good
version, never back to the rejected one, and its duration is measured against the policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from leitstand.auth.model import Actor
from leitstand.bootstrap import build
from leitstand.ledger.service import EntryQuery
from leitstand.policy.loader import load_policy_text
from leitstand.releases.model import Phase
from leitstand.settings import Settings
from leitstand.testing import postgres_schema
from support.gate_runs import gated_start
from support.releases_lab import LoadLoop, ReleaseLab, drive, managed_stack, short_dir

OPS = Actor(name="olaf", role="devops")
SERVICE = "enterprise-api"


@pytest.mark.postgres
def test_a_bad_canary_is_rolled_back_and_a_manual_rollback_never_brings_it_back(
    tmp_path: Path,
) -> None:
    lab = ReleaseLab(short_dir())  # HAProxy; no Prometheus of its own
    lab.versions.add("2.3.0")
    lab.versions.add("2.4.0")
    lab.versions.add("2.4.1", error_rate=0.3)
    home = tmp_path / "home"
    lab.homes.append(home)
    overlay = lab.policy(canary={"analysis_window": "4s"}, blue_green={"rollback_window": "1s"})
    # No prometheus_url: the analysis finds the managed stack by itself.
    overlay["deployment"]["releases"][SERVICE]["analysis"] = {"min_requests": 20}
    overlay["monitoring"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    policy = load_policy_text(yaml.safe_dump(overlay))
    stack = None
    with postgres_schema() as pg:
        settings = Settings(home=home, database_url=pg.url, database_schema=pg.schema)
        c = build(settings, migrate=True, policy=policy)
        try:
            stack = managed_stack(c)

            def release(version: str, **kwargs: Any) -> Any:
                info = gated_start(  # Fail = Stop: a passing gate run for this artifact
                    c, service=SERVICE, version=version, env="staging", actor=OPS, **kwargs
                )
                return drive(c, info.id, timeout=90)

            assert release("2.3.0").phase is Phase.COMPLETED
            assert release("2.4.0").phase is Phase.COMPLETED  # 2.3.0's colour retired
            load = LoadLoop(lab.url, threads=3).start()
            load.wait_for(300)
            bad = release("2.4.1", strategy="canary")
            analyses = c.releases.analysis_list(bad.id)
            assert bad.phase is Phase.ROLLED_BACK, analyses
            (analysis,) = analyses
            assert (analysis.step, analysis.weight, analysis.verdict) == (0, 5, "fail")
            assert analysis.canary["error_rate"] >= 5 and analysis.stable["error_rate"] == 0
            assert bad.rollback_seconds is not None and bad.rollback_seconds < 1
            (target,) = c.releases.targets()
            assert target.active_version == "2.4.0" and target.previous_version == "2.3.0"
            assert target.routing.weight(bad.target_slot) == 0
            # DevOps and the developers are told, the change log and a root-cause task record it.
            assert [a.name for a in c.alerting.queries.alert_list()] == ["ReleaseRolledBack"]
            with c.db.reader() as session:
                told = c.ledger.entries(session, EntryQuery(action="notification.requested"))
                logged = c.ledger.entries(session, EntryQuery(action="change.rolled_back"))
            assert told[0].payload["roles"] == ["devops", "developer"]
            assert logged[0].payload["version"] == "2.4.1" and logged[0].payload["automatic"]
            (task,) = c.releases.task_list(status="open")
            assert "2.4.1" in task.title

            # The manual rollback goes to the last good version, not to the rejected 2.4.1.
            manual = c.releases.rollback(
                service=SERVICE, env="staging", actor=OPS, reason="customers complain"
            )
            assert (manual.kind, manual.version, manual.stable_version) == (
                "rollback",
                "2.3.0",
                "2.4.0",
            )
            done = drive(c, manual.id, timeout=90)
            load.wait_for(len(load.results) + 300)
            load.stop()
            assert done.phase is Phase.COMPLETED, done
            assert done.rollback_seconds is not None and 0 < done.rollback_seconds <= 60
            (target,) = c.releases.targets()
            assert target.active_version == "2.3.0" and target.previous_version is None
            with c.db.reader() as session:
                (switched,) = c.ledger.entries(
                    session, EntryQuery(subject=f"release:{manual.id}", action="release.switched")
                )
            assert switched.payload["rollback_seconds"] == done.rollback_seconds
            assert switched.payload["max_rollback_seconds"] == 60
            assert switched.payload["rollback_within_limit"] is True
        finally:
            c.close()
            if stack is not None:
                stack.stop()
            lab.close()
    assert {version for _s, _e, _status, version in load.failed} <= {"2.4.1"}
    assert "2.3.0" in load.versions()
