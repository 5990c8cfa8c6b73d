"""Alerting fixtures: a policy with people, a rotation and real receivers (SMTP, webhook)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from leitstand.bootstrap import Container, build
from leitstand.policy.model import Policy
from leitstand.policy.monitoring import AlertingPolicy
from leitstand.settings import Settings
from leitstand.testing import ManualClock, free_port
from leitstand.testing.mail import SmtpSink, WebhookSink

PEOPLE = {
    "anna": {"name": "Anna Ops", "roles": ["devops"], "email": "anna@example.org"},
    "carla": {"name": "Carla Call", "roles": ["developer"], "email": "carla@example.org"},
    "dirk": {"name": "Dirk Duty", "roles": ["developer"], "email": "dirk@example.org"},
    "eva": {"name": "Eva Dev", "roles": ["developer"], "email": "eva@example.org"},
    "mario": {"name": "Mario M", "roles": ["management"], "email": "mario@example.org"},
    "clara": {"name": "Clara Comp", "roles": ["compliance_officer"], "email": "clara@example.org"},
}


def alerting_policy(smtp_port: int, **overrides: Any) -> Policy:
    data = Policy().alerting.model_dump(mode="json")
    data["people"] = PEOPLE
    data["oncall"] = {"people": ["carla", "dirk"], "start": "2026-01-05"}
    data["notifications"]["channels"] = {
        "email": {
            "kind": "email",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "security": "none",
        },
        "slack": {"kind": "mattermost", "url_env": "LEITSTAND_TEST_CHAT_URL"},
        "pager": {"kind": "webhook", "url_env": "LEITSTAND_PAGER_WEBHOOK_URL"},
    }
    data.update(overrides)
    return Policy(alerting=AlertingPolicy.model_validate(data))


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink(free_port()) as sink:
        yield sink


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookSink]:
    with WebhookSink(free_port()) as sink:
        monkeypatch.setenv("LEITSTAND_TEST_CHAT_URL", f"{sink.url}/hooks/chat-token-123")
        monkeypatch.setenv("LEITSTAND_PAGER_WEBHOOK_URL", f"{sink.url}/pager")
        yield sink


@pytest.fixture
def policy(smtp: SmtpSink, hook: WebhookSink) -> Policy:
    return alerting_policy(smtp.port)


@pytest.fixture
def alerts(settings: Settings, clock: ManualClock, policy: Policy) -> Iterator[Container]:
    c = build(settings, clock=clock, migrate=True, policy=policy)
    try:
        yield c
    finally:
        c.scheduler.leases.drain(timeout=30)
        c.close()


def pump(container: Container, rounds: int = 5) -> None:
    """Fire every due timer and wait for the deliveries they start."""
    for _ in range(rounds):
        fired = container.scheduler.run_due(limit=500)
        container.scheduler.leases.drain(timeout=30)
        if not fired:
            return


def later(clock: ManualClock, container: Container, **delta: float) -> None:
    clock.advance(timedelta(**delta))
    pump(container)
