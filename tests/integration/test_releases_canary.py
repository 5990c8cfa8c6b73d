"""An inconclusive canary analysis pauses for a person, who promotes (or aborts) it."""

from __future__ import annotations

from pathlib import Path

from leitstand.auth.model import Actor
from leitstand.bootstrap import build
from leitstand.ledger.service import EntryQuery
from leitstand.policy.loader import load_policy_text
from leitstand.releases.model import Phase
from leitstand.settings import Settings
from leitstand.testing_releases import ReleaseLab, drive, short_dir

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
        drive(c, c.releases.start(service="enterprise-api", version="1.0.0", env="staging",
                                  actor=OPS).id)  # fmt: skip
        info = c.releases.start(
            service="enterprise-api", version="1.1.0", env="staging", actor=OPS, strategy="canary"
        )
        paused = drive(c, info.id)
        assert paused.phase is Phase.PAUSED
        (analysis,) = c.releases.analyses(info.id)
        assert analysis["verdict"] == "inconclusive"
        assert "no Prometheus configured or running" in analysis["reasons"][0]
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
        assert c.releases.analyses(info.id)[0]["decided_by"] == "clara"
        c.releases.abort(release_id=info.id, actor=OPS, reason="enough")
        assert drive(c, info.id).phase is Phase.ROLLED_BACK
    finally:
        c.close()
        lab.close()
