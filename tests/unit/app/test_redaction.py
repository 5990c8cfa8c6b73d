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


# The fast path: a flat event (a log line's fields) is tested as a whole before any pattern runs.

SECRETS_IN_TEXT = {
    "github-pat": "github_pat_" + "A1b2" * 6,
    "gitlab": "glpat-" + "x1Y2z3" * 4,
    "slack": "xoxb-123456789012-abcdef",
    "stripe": "sk_live_" + "a1B2" * 5,
    "stripe-restricted": "rk_test_" + "Z9y8" * 5,
    "google": "AIza" + ("b3C4d5" * 6)[:35],
    "aws-session": "ASIA" + "ABCD2345EFGH6789",
    "aws": "AKIA" + "IOSFODNN7EXAMPLE",
    "lst": "lst_" + "Zx9_" * 8,
    "jwt": JWT,
}


@pytest.mark.parametrize("secret", list(SECRETS_IN_TEXT.values()), ids=list(SECRETS_IN_TEXT))
def test_every_key_format_is_caught_in_a_flat_event(secret: str) -> None:
    event = {"event": "call", "level": "info", "status": 200, "note": f"using {secret} now"}
    assert redact(event) == {**event, "note": f"using {REDACTED} now"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Token abc123def456", f"Token {REDACTED}"),
        ("DIGEST u7Yx+Q2z/9==", f"DIGEST {REDACTED}"),
        ("bearer\tabcDEF123456789", f"bearer\t{REDACTED}"),
        ("api_key=k3y", f"api_key={REDACTED}"),
        ("apikey = 'k 3 y'", f"apikey = {REDACTED}"),
        ("ACCESS-TOKEN=t0k", f"ACCESS-TOKEN={REDACTED}"),
        ("client_secret: s3cr3t", f"client_secret: {REDACTED}"),
        ("PASSWD=hunter2", f"PASSWD={REDACTED}"),
        ("redis://:hunter2@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n",
            REDACTED,
        ),
        ("Fehler für anna: password=hunter2", f"Fehler für anna: password={REDACTED}"),
    ],
)
def test_every_pattern_is_caught_in_a_flat_event_in_any_case(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    event = {"event": "retry", "timestamp": "2026-12-07T10:40:39Z", "attempt": 2, "detail": text}
    assert redact(event) == {**event, "detail": expected}


def test_unicode_case_variants_of_scheme_words_are_caught() -> None:
    # re.IGNORECASE matches "ſ" (long s) as "s": non-ASCII text is tested case-insensitively.
    assert redact_text("Baſic dXNlcjpodW50ZXIy") == f"Baſic {REDACTED}"
    assert redact({"h": "paſſword=hunter2 für"}) == {"h": f"paſſword={REDACTED} für"}


def test_an_event_with_nothing_secret_is_returned_unchanged_without_a_copy() -> None:
    event = {
        "event": "http_request",
        "level": "info",
        "timestamp": "2026-12-07T10:40:39.123456Z",
        "request_id": "5ef458a2edbf67026cf0f3b2ec5bcb65",
        "method": "password",  # a word, not a pair: no secret
        "route": "/api/v1/incidents/{incident_id}",
        "url": "http://127.0.0.1:8080/readyz",
        "status": 200,
        "duration_ms": 12.5,
        "cached": False,
        "user": None,
        "error": "delivery to ops@example.org failed via 10.0.1.2: timeout",
    }
    before = dict(event)
    assert redact(event) is event
    assert event == before


def test_secret_key_names_are_found_in_any_case_in_a_flat_event() -> None:
    event = {
        "event": "login",
        "PASSWORD": "hunter2",
        "Api-Key": "k3y",
        "X-Auth-Token": "abc",
        "Authorization": "Basic dXNlcjpodW50ZXIy",
        "SessionId": "s1",
        "token_valid": True,
        "user": "anna",
    }
    assert redact(event) == {
        "event": "login",
        "PASSWORD": REDACTED,
        "Api-Key": REDACTED,
        "X-Auth-Token": REDACTED,
        "Authorization": REDACTED,
        "SessionId": REDACTED,
        "token_valid": True,
        "user": "anna",
    }
    assert redact({"event": "login", "user": "anna"}) == {"event": "login", "user": "anna"}


def test_values_in_separate_fields_do_not_combine_into_a_secret() -> None:
    event = {"a": "password", "b": "=x", "c": "Bearer", "d": "abcDEF123456789"}
    assert redact(event) == event


def test_nested_values_are_redacted_and_copied() -> None:
    inner = {"url": "postgresql://app:hunter2@db/app", "ok": "plain"}
    event = {
        "event": "backup",
        "target": inner,
        "headers": ["Accept: */*", "Authorization: Bearer abcDEF123456789"],
        "pair": ("x", "pwd=hunter2"),
        "clean": {"n": 1},
        7: "seven",
    }
    result = redact(event)
    assert result == {
        "event": "backup",
        "target": {"url": f"postgresql://app:{REDACTED}@db/app", "ok": "plain"},
        "headers": ["Accept: */*", f"Authorization: Bearer {REDACTED}"],
        "pair": ["x", f"pwd={REDACTED}"],
        "clean": {"n": 1},
        "7": "seven",
    }
    assert result is not event and result["clean"] is not event["clean"]
    assert inner["url"] == "postgresql://app:hunter2@db/app"
