"""The stage of the user journeys (shared/SCENARIOS.md): enterprise-api in production behind a
real HAProxy, the monitoring stack leitstand manages (Prometheus, Alertmanager), PostgreSQL, and
the people of the journeys as named users whose tokens drive the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from leitstand.auth.model import SYSTEM_ACTOR, Actor, Role
from leitstand.bootstrap import Container, build
from leitstand.policy.loader import load_policy_text
from leitstand.releases.model import Phase
from leitstand.settings import Settings
from leitstand.testing import postgres_schema
from support.gate_runs import gated_start
from support.releases_lab import ReleaseLab, drive, managed_stack, short_dir

SERVICE = "enterprise-api"
ENV = "production"
DEV = Actor(name="dana", role="developer")
OFFICER = Actor(name="clara", role="compliance_officer")
OPS = Actor(name="olaf", role="devops")
OPS2 = Actor(name="otto", role="devops")
CI = Actor(name="ci-runner", role="devops")
TENANTS = ("example-makler-nord", "example-makler-sued", "example-makler-west")


@dataclass
class Journey:
    """The control plane's store and policy, shared by the CLI and the checks of a journey."""

    container: Container
    lab: ReleaseLab
    env: dict[str, str]
    cwd: Path
    tokens: dict[str, str]
    prometheus: str  # the URL of the Prometheus leitstand manages

    def cli(self, user: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        """``leitstand ARGS`` as ``user`` (their token in ``LEITSTAND_TOKEN``)."""
        env = {**self.env, "LEITSTAND_TOKEN": self.tokens[user]}
        done = subprocess.run(
            [sys.executable, "-m", "leitstand", *args],
            env=env, cwd=self.cwd, capture_output=True, text=True, timeout=240, check=False,
        )  # fmt: skip
        assert "Traceback" not in done.stdout + done.stderr, done.stderr
        if ok:
            assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        return done

    def released(self, version: str) -> None:
        """History before the journey: ``version`` released to production the usual way (change,
        four-eyes approval, a passing gate run of its artifact, a second person's approval)."""
        c = self.container
        fields = {"what": version, "why": "earlier release", "rollback": "previous", "tests": "all"}
        change = c.changes.open(
            service=SERVICE, version=version, category="normal", fields=fields, actor=DEV
        )
        c.changes.decide(change_id=change.id, actor=OFFICER, approve=True)
        info = gated_start(c, service=SERVICE, version=version, env=ENV, actor=OPS)
        c.releases.approve(release_id=info.id, actor=OPS2)
        assert drive(c, info.id, timeout=90).phase is Phase.COMPLETED

    @staticmethod
    def json(done: subprocess.CompletedProcess[str]) -> Any:
        return json.loads(done.stdout)

    @staticmethod
    def lines(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
        """The events a followed release streams, one JSON object a line (the release last)."""
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _policy(lab: ReleaseLab) -> dict[str, Any]:
    overlay = lab.policy(canary={"analysis_window": "4s"}, blue_green={"rollback_window": "1s"})
    # No prometheus_url: the analysis finds the Prometheus leitstand manages by itself.
    overlay["deployment"]["releases"][SERVICE]["analysis"] = {"min_requests": 20}
    overlay["monitoring"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    overlay["alerting"] = {
        "people": {
            "otto": {"name": "Otto", "roles": ["devops"], "email": "otto@example.org"},
            "dana": {"name": "Dana", "roles": ["developer"], "email": "dana@example.org"},
            "pia": {"name": "Pia", "roles": ["product_owner"], "email": "pia@example.org"},
        },
        "oncall": {"people": ["otto"]},
    }
    broker = {"contact": "it@makler.example", "services": [SERVICE], "example": True}
    overlay["tenants"] = {
        tenant: {"name": f"Beispiel Makler {tenant.rsplit('-', 1)[1].title()}", **broker}
        for tenant in TENANTS
    }
    return overlay


@pytest.fixture
def journey(tmp_path: Path) -> Iterator[Journey]:
    """The stage; versions are added by each journey (``journey.lab.versions.add``)."""
    lab = ReleaseLab(short_dir(), envs=(ENV,))
    home = tmp_path / "home"
    lab.homes.append(home)
    text = yaml.safe_dump(_policy(lab), sort_keys=False, allow_unicode=True)
    policy_file = tmp_path / "leitstand.yaml"
    policy_file.write_text(text)
    stack = None
    try:
        with postgres_schema() as pg:
            settings = Settings(
                home=home, database_url=pg.url, database_schema=pg.schema, policy=policy_file
            )
            c = build(settings, migrate=True, policy=load_policy_text(text))
            try:
                stack = managed_stack(c)
                tokens = {
                    a.name: c.auth.add_user(name=a.name, role=Role(a.role), actor=SYSTEM_ACTOR)[1]
                    for a in (DEV, OFFICER, OPS, OPS2, CI)
                }
                env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
                env.update(
                    LEITSTAND_HOME=str(home),
                    LEITSTAND_DATABASE_URL=pg.url,
                    LEITSTAND_DATABASE_SCHEMA=pg.schema,
                    LEITSTAND_POLICY=str(policy_file),
                    COLUMNS="200",
                )
                url = stack.components["prometheus"].url
                yield Journey(c, lab, env, tmp_path, tokens, url)
            finally:
                c.close()
    finally:
        if stack is not None:
            stack.stop()
        lab.close()
