"""An inconclusive canary analysis pauses for a person, who promotes (or aborts) it."""

from __future__ import annotations

from pathlib import Path

import yaml

from leitstand.auth.model import Actor
from leitstand.bootstrap import build
from leitstand.ledger.service import EntryQuery
from leitstand.policy.loader import load_policy_text
from leitstand.releases.model import Phase
from leitstand.settings import Settings
from leitstand.testing import wait_for
from support.gate_runs import gated_start
from support.releases_lab import ReleaseLab, drive, short_dir

OPS = Actor(name="olaf", role="devops")
OFFICER = Actor(name="clara", role="compliance_officer")


def test_an_inconclusive_analysis_pauses_until_a_person_promotes_the_canary(
    tmp_path: Path,
) -> None:
    # Real instances, the Kubernetes router only renders, and no Prometheus answers.
    lab = ReleaseLab(short_dir(), router="kubernetes")
    lab.versions.add("1.0.0")
    lab.versions.add("1.1.0")
    home = tmp_path / "home"
    lab.homes.append(home)
    policy = load_policy_text(lab.policy_yaml(canary={"analysis_window": "1s"}))
    c = build(Settings(home=home), migrate=True, policy=policy)
    try:
        drive(c, gated_start(c, service="enterprise-api", version="1.0.0", env="staging",
                                  actor=OPS).id)  # fmt: skip
        info = gated_start(
            c,
            service="enterprise-api",
            version="1.1.0",
            env="staging",
            actor=OPS,
            strategy="canary",
        )
        paused = drive(c, info.id)
        assert paused.phase is Phase.PAUSED
        (analysis,) = c.releases.analysis_list(info.id)
        assert analysis.verdict == "inconclusive"
        assert "no Prometheus configured (analysis.prometheus_url)" in analysis.reasons[0]
        with c.db.reader() as session:
            asked = c.ledger.entries(session, EntryQuery(action="notification.requested"))
        assert "Entscheidung nötig" in asked[0].payload["subject"]
        (target,) = c.releases.targets()
        assert target.routing.weight("green") == 5  # the canary keeps its share meanwhile
        promoted = c.releases.promote(release_id=info.id, actor=OFFICER)
        assert promoted.step == 1
        again = drive(c, info.id)
        assert again.phase is Phase.PAUSED and again.step == 1
        (target,) = c.releases.targets()
        assert target.routing.weight("green") == 25
        assert c.releases.analysis_list(info.id)[0].decided_by == "clara"
        c.releases.abort(release_id=info.id, actor=OPS, reason="enough")
        assert drive(c, info.id).phase is Phase.ROLLED_BACK
    finally:
        c.close()
        lab.close()


def test_an_unanswered_pause_ends_with_the_policys_default_action(tmp_path: Path) -> None:
    lab = ReleaseLab(short_dir(), router="kubernetes")
    lab.versions.add("1.0.0")
    lab.versions.add("1.1.0")
    home = tmp_path / "home"
    lab.homes.append(home)
    overlay = lab.policy(canary={"analysis_window": "1s", "inconclusive_max_wait": "2s"})
    # The release engine is under test; admission (Fail = Stop) has its own tests.
    overlay["pipeline"] = {"deployment": {"required_gates": {"staging": []}}}
    policy = load_policy_text(yaml.safe_dump(overlay))
    assert policy.deployment.canary.inconclusive_action.value == "rollback"  # the default
    c = build(Settings(home=home), migrate=True, policy=policy)
    try:
        drive(c, gated_start(c, service="enterprise-api", version="1.0.0", env="staging",
                                  actor=OPS).id)  # fmt: skip
        info = gated_start(
            c,
            service="enterprise-api",
            version="1.1.0",
            env="staging",
            actor=OPS,
            strategy="canary",
        )
        paused = drive(c, info.id)
        assert paused.phase is Phase.PAUSED and paused.deadline is not None
        with c.db.reader() as session:
            (asked,) = c.ledger.entries(session, EntryQuery(action="notification.requested"))
        assert "Entscheidung nötig" in asked.payload["subject"]

        # Nobody decides: after the bound the canary is rolled back, never stuck.
        def over() -> bool:  # PAUSED counts as settled for drive(): fire the timers here
            c.scheduler.run_due(limit=50)
            return c.releases.get(info.id).phase is not Phase.PAUSED

        wait_for("the end of the bounded pause", over, 30, interval=0.05)
        done = drive(c, info.id)
        assert done.phase is Phase.ROLLED_BACK
        assert done.reason is not None and "nobody decided within 2 s" in done.reason
        (target,) = c.releases.targets()
        assert target.routing.weight("green") == 0 and target.active_version == "1.0.0"
        assert [a.name for a in c.alerting.queries.alert_list()] == ["ReleaseRolledBack"]
        with c.db.reader() as session:
            (decided,) = c.ledger.entries(session, EntryQuery(action="release.rollback_decided"))
        assert decided.payload["trigger"] == "inconclusive" and decided.payload["automatic"]
    finally:
        c.close()
        lab.close()
