"""Tenant isolation of the evidence ledger: a tenant's query never returns another's entries."""

from __future__ import annotations

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.ledger.service import EntryQuery

pytestmark = pytest.mark.tenant_isolation

ACTOR = Actor(name="ops", role="devops")


def _record(container: Container, tenant: str | None, subject: str) -> None:
    with container.db.transaction() as session:
        container.ledger.record(session, ACTOR, "test.event", subject, tenant=tenant)


def test_a_tenant_filter_returns_only_that_tenants_entries(container: Container) -> None:
    _record(container, "maklerhaus-nord", "contract:1")
    _record(container, "maklerhaus-sued", "contract:2")
    _record(container, None, "platform:1")
    with container.db.reader() as session:
        nord = container.ledger.entries(session, EntryQuery(tenant="maklerhaus-nord"))
        sued = container.ledger.entries(session, EntryQuery(tenant="maklerhaus-sued"))
    assert [(e.tenant, e.subject) for e in nord] == [("maklerhaus-nord", "contract:1")]
    assert [(e.tenant, e.subject) for e in sued] == [("maklerhaus-sued", "contract:2")]


def test_an_unknown_tenant_sees_nothing_not_everything(container: Container) -> None:
    _record(container, "maklerhaus-nord", "contract:1")
    with container.db.reader() as session:
        assert container.ledger.entries(session, EntryQuery(tenant="maklerhaus-west")) == []
        assert container.ledger.entries(session, EntryQuery(tenant="")) == []


def test_a_tenant_prefix_does_not_match_a_longer_tenant_id(container: Container) -> None:
    _record(container, "maklerhaus-nord-2", "contract:9")
    with container.db.reader() as session:
        assert container.ledger.entries(session, EntryQuery(tenant="maklerhaus-nord")) == []
