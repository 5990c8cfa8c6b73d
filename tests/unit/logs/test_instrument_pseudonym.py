"""A service using leitstand.instrument pseudonymises its log lines as docs/alerting.md shows."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import structlog

from leitstand.instrument import LogPseudonymiser, load_key, pseudonym_of
from leitstand.policy import default_policy

KEY = "k3y-of-the-service-0123456789abcdef"


def test_a_service_chain_built_as_documented_pseudonymises_users_and_e_mails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEITSTAND_LOG_PSEUDONYM_KEY", KEY)
    policy = default_policy()
    key = load_key("env:LEITSTAND_LOG_PSEUDONYM_KEY", home=Path.cwd())
    pseudonymise = LogPseudonymiser(key, policy.logs.pseudonymise_fields)
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(file=out),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            pseudonymise,
            structlog.processors.JSONRenderer(),
        ],
        # Its own level filter: not whatever structlog configuration an earlier test left.
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )

    logger.info("login", user="alice", note="mail from Alice.Smith@Makler-Nord.example")

    line = out.getvalue()
    event = json.loads(line)
    assert event["user"] == pseudonym_of("alice", KEY)
    assert event["note"] == f"mail from {pseudonym_of('alice.smith@makler-nord.example', KEY)}"
    assert event["event"] == "login" and event["level"] == "info"
    assert "alice" not in line.lower()
