"""`?tenant=X` and `incident list --tenant X`: a tenant whose open incident is older than 200
other incidents still sees it (the filter runs in SQL, before the limit), on both backends."""

from __future__ import annotations

import json
import os
from datetime import timedelta

from fastapi.testclient import TestClient

from leitstand.auth.model import Actor, Role
from leitstand.bootstrap import Container
from leitstand.settings import Settings
from leitstand.testing import ManualClock
from leitstand.testing.cli import run_cli

OPS = Actor(name="anna", role="devops")
NORD, SUED = "example-makler-nord", "example-makler-sued"


def _crowd(container: Container, clock: ManualClock) -> str:
    clock.advance(timedelta(days=-1))  # the old incident, opened a day before the others
    old = container.incidents.create(
        title="Alter Vorfall", severity="SEV-4", actor=OPS, details={"tenants": [NORD]}
    ).id
    clock.advance(timedelta(days=1))
    with container.db.transaction() as session:
        for n in range(201):
            container.incidents.open(
                session,
                title=f"Vorfall {n}",
                severity="SEV-4",
                actor=OPS,
                details={"tenants": [SUED]},
            )
    return old


def test_api_tenant_filter_finds_the_old_open_incident(
    container: Container,
    clock: ManualClock,
    client: TestClient,
    headers: dict[Role, dict[str, str]],
) -> None:
    old = _crowd(container, clock)
    viewer = headers[Role.ONCALL]
    everything = client.get("/api/v1/incidents", headers=viewer).json()
    assert len(everything) == 200 and old not in {i["id"] for i in everything}
    mine = client.get("/api/v1/incidents", params={"tenant": NORD}, headers=viewer)
    assert mine.status_code == 200
    assert [i["id"] for i in mine.json()] == [old]
    open_only = client.get(
        "/api/v1/incidents", params={"tenant": NORD, "status": "open"}, headers=viewer
    )
    assert [i["id"] for i in open_only.json()] == [old]


def test_cli_tenant_filter_finds_the_old_open_incident(
    container: Container, clock: ManualClock, settings: Settings
) -> None:
    old = _crowd(container, clock)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEITSTAND_")}
    env["LEITSTAND_HOME"] = str(settings.home)
    if settings.database_url:
        env["LEITSTAND_DATABASE_URL"] = settings.database_url
    if settings.database_schema:
        env["LEITSTAND_DATABASE_SCHEMA"] = settings.database_schema
    done = run_cli(
        ["incident", "list", "--tenant", NORD, "--json"], env=env, cwd=settings.home.parent
    )
    assert done.returncode == 0, done.stderr
    assert [i["id"] for i in json.loads(done.stdout)] == [old]
