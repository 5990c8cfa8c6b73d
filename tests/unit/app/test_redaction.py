"""Secret redaction by key name and by value pattern, in the ledger and in log lines; check
results (a gate run's secrets check, counts, verdicts) are never redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
import structlog

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.observability import configure_logging
from leitstand.redaction import REDACTED, redact, redact_text

SYSTEM = Actor(name="leitstand", role="system")
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://app:hunter2@db:5432/app", f"postgresql://app:{REDACTED}@db:5432/app"),
        ("fetch https://bob:p%40ss@example.org/x", f"fetch https://bob:{REDACTED}@example.org/x"),
        (
            "host=db user=app password=hunter2 dbname=x",
            f"host=db user=app password={REDACTED} dbname=x",
        ),
        ("Server=db;Uid=app;Pwd=hunter2;", f"Server=db;Uid=app;Pwd={REDACTED};"),
        ("Authorization: Bearer abcDEF123456789", f"Authorization: Bearer {REDACTED}"),
        ("Basic dXNlcjpodW50ZXIy", f"Basic {REDACTED}"),
        (f"jwt {JWT} end", f"jwt {REDACTED} end"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----", REDACTED),
        ("key ghp_" + "a1" * 18, f"key {REDACTED}"),
        ("lst_" + "Zx9_" * 8, REDACTED),
        ("AKIAIOSFODNN7EXAMPLE", REDACTED),
    ],
    ids=[
        "dsn-url",
        "url",
        "libpq",
        "odbc",
        "bearer",
        "basic",
        "jwt",
        "pem",
        "github",
        "lst",
        "aws",
    ],
)
def test_secrets_in_text_are_found_by_their_pattern(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact({"note": text}) == {"note": expected}


@pytest.mark.parametrize(
    "text",
    [
        "sha256:" + "ab" * 32,
        "Basic monitoring of services",
        "http://127.0.0.1:8080/readyz",
        "the password policy was reviewed",
        "secret: pass",
        "API-Token: erstellt für anna",
    ],
)
def test_ordinary_text_and_digests_stay(text: str) -> None:
    assert redact_text(text) == text


def test_results_under_secret_looking_keys_stay_and_secrets_go() -> None:
    payload = {
        "checks": {"security.secrets": "pass", "build.sbom": "fail"},
        "secrets_found": 3,
        "secret_scan": {
            "status": "fail",
            "findings": [{"file": "app.py", "line": 4, "value": "x1"}],
        },
        "token_valid": True,
        "password": "hunter2",
        "dsn": "postgresql://app:hunter2@db/app",
        "credentials": {"user": "app", "secret": "s3"},
    }
    assert redact(payload) == {
        "checks": {"security.secrets": "pass", "build.sbom": "fail"},
        "secrets_found": 3,
        "secret_scan": {
            "status": "fail",
            "findings": [{"file": "app.py", "line": 4, "value": REDACTED}],
        },
        "token_valid": True,
        "password": REDACTED,
        "dsn": REDACTED,
        "credentials": {"user": REDACTED, "secret": REDACTED},
    }  # fmt: skip


def test_the_ledger_drops_a_dsn_password_and_keeps_the_gate_secrets_result(
    container: Container,
) -> None:
    with container.db.transaction() as session:
        config = container.ledger.record(
            session, SYSTEM, "backup.configured", "system:enterprise-api",
            payload={"target": "postgresql://backup:hunter2@db.internal:5432/app"},
        )  # fmt: skip
        run = container.ledger.record(
            session, SYSTEM, "gate.run", "project:enterprise-api@2.4.0",
            payload={"status": "fail", "checks": {"security.secrets": "fail", "test.unit": "pass"}},
        )  # fmt: skip
    assert config.payload["target"] == f"postgresql://backup:{REDACTED}@db.internal:5432/app"
    assert run.payload["checks"] == {"security.secrets": "fail", "test.unit": "pass"}
    with container.db.reader() as session:
        bodies = b"".join(
            bytes(b) for b in session.execute(sa.text("SELECT body FROM ledger_entries")).scalars()
        )
    assert b"hunter2" not in bodies
    assert b'"security.secrets":"fail"' in bodies


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging("info", stream=out)
    yield out
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_log_lines_lose_secrets_in_values_too(stream: io.StringIO) -> None:
    log = structlog.get_logger("t")
    log.info("connecting", url="postgresql://app:hunter2@db/app", header=f"Bearer {JWT}")
    logging.getLogger("uvicorn.error").warning("retry with password=hunter2")
    text = stream.getvalue()
    assert "hunter2" not in text and JWT not in text
    first = json.loads(text.splitlines()[0])
    assert first["url"] == f"postgresql://app:{REDACTED}@db/app"
