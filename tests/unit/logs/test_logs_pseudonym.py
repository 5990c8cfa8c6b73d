"""No personal data in log lines: user names, e-mail and IP addresses become keyed pseudonyms."""

from __future__ import annotations

import io
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import structlog

from leitstand.errors import ConfigError
from leitstand.logs.pseudonym import (
    PSEUDONYM,
    LogPseudonymiser,
    canonical,
    load_key,
    processor_for,
    pseudonym_of,
    pseudonymise_text,
    reidentify,
)
from leitstand.policy import default_policy

KEY = b"k3y-of-the-compliance-officer-0123456789"
OTHER_KEY = b"another-key-entirely-9876543210"
FIELDS = default_policy().logs.pseudonymise_fields


def run(event: dict[str, Any], key: bytes = KEY) -> dict[str, Any]:
    return dict(LogPseudonymiser(key, FIELDS)(None, "info", dict(event)))


def log_line(key: bytes, **fields: Any) -> str:
    """One JSON line through a structlog chain with the processor, as leitstand writes it."""
    out = io.StringIO()
    # Its own wrapper class: structlog's global one may be a level filter that an earlier test
    # in the same worker configured (configure_logging), which would drop this info line.
    logger = structlog.wrap_logger(
        structlog.PrintLogger(file=out),
        processors=[LogPseudonymiser(key, FIELDS), structlog.processors.JSONRenderer()],
        wrapper_class=structlog.BoundLogger,
    )
    logger.info("login", **fields)
    return out.getvalue()


def test_user_names_in_personal_fields_are_replaced() -> None:
    out = run({"event": "login", "user": "alice", "actor": "bob", "username": "carol"})
    assert out["user"] == pseudonym_of("alice", KEY)
    assert out["actor"] == pseudonym_of("bob", KEY)
    assert out["username"] == pseudonym_of("carol", KEY)
    assert all(PSEUDONYM.fullmatch(out[f]) for f in ("user", "actor", "username"))
    assert "alice" not in json.dumps(out)


def test_e_mail_addresses_are_replaced_in_fields_and_in_text() -> None:
    out = run(
        {
            "event": "mail to Alice.Smith@Makler-Nord.example bounced",
            "email": "bob@example.org",
            "detail": "cc: carol+ops@example.com, dave@example.com.",
        }
    )
    assert out["email"] == pseudonym_of("bob@example.org", KEY)
    alice = pseudonym_of("alice.smith@makler-nord.example", KEY)
    assert out["event"] == f"mail to {alice} bounced"
    carol, dave = pseudonym_of("carol+ops@example.com", KEY), pseudonym_of("dave@example.com", KEY)
    assert out["detail"] == f"cc: {carol}, {dave}."
    assert "@" not in json.dumps(out)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("denied from 192.168.17.4", "192.168.17.4"),
        ("peer 10.0.0.1:5432 closed", "10.0.0.1"),
        ("from 2001:db8::42 via proxy", "2001:db8::42"),
        ("from [2001:DB8:0:0:0:0:0:1]:443", "2001:db8::1"),
        ("link-local fe80::1%eth0 up", "fe80::1"),
        ("loopback ::1.", "::1"),
        ("mapped ::ffff:10.1.2.3 seen", "10.1.2.3"),
        ("full 2001:0db8:85a3:0000:0000:8a2e:0370:7334 ok", "2001:db8:85a3::8a2e:370:7334"),
    ],
)
def test_ipv4_and_ipv6_addresses_in_text_are_replaced(text: str, address: str) -> None:
    out = run({"event": text})["event"]
    assert pseudonym_of(address, KEY) in out
    assert re.search(r"\d+\.\d+\.\d+\.\d+|[0-9a-f]*::[0-9a-f]*|db8", out, re.IGNORECASE) is None


def test_ip_fields_are_replaced_in_their_canonical_form() -> None:
    out = run({"client_ip": "2001:DB8:0::1", "remote_addr": "10.0.0.7"})
    assert out["client_ip"] == pseudonym_of("2001:db8::1", KEY)
    assert out["remote_addr"] == pseudonym_of("10.0.0.7", KEY)
    assert canonical(" Alice@Example.COM ") == "alice@example.com"
    assert canonical("::ffff:192.0.2.1") == "192.0.2.1"


def test_same_value_and_key_give_the_same_pseudonym_another_key_another() -> None:
    first = run({"user": "alice"})["user"]
    again = run({"user": "alice"})["user"]
    other = run({"user": "alice"}, key=OTHER_KEY)["user"]
    assert first == again
    assert other != first
    assert run({"user": "alicf"})["user"] != first
    # The same person in a field and in text is the same pseudonym.
    assert run({"event": "by alice@example.com"})["event"] == "by " + pseudonym_of(
        "alice@example.com", KEY
    )
    assert run({"email": "alice@example.com"})["email"] == pseudonym_of("alice@example.com", KEY)


def test_the_key_never_appears() -> None:
    line = log_line(KEY, user="alice", email="alice@example.com", client_ip="10.0.0.1")
    assert KEY.decode() not in line
    processor = LogPseudonymiser(KEY, FIELDS)
    assert KEY.decode() not in repr(processor)
    assert KEY.decode() not in str(processor)
    assert "alice" not in line and "10.0.0.1" not in line


def test_non_personal_fields_and_look_alikes_stay() -> None:
    event = {
        "event": "release_step",
        "timestamp": "2026-12-07T10:22:31.123456Z",
        "request_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "service": "enterprise-api",
        "version": "2.4.1",
        "tag": "v1.2.3.4",
        "digest": "sha256:" + "ab" * 32,
        "mac": "00:1a:2b:3c:4d:5e",
        "at": "10:22:31",
        "method": "Class::method",
        "status": 200,
        "duration_ms": 12.5,
        "ok": True,
        "nothing": None,
        "route": "/api/v1/incidents/{incident_id}",
    }
    assert run(event) == event


def test_nested_values_are_searched_without_changing_the_caller_s_objects() -> None:
    payload = {"user": "alice", "note": "from 10.0.0.1", "count": 3}
    recipients = ["bob@example.com", "ops"]
    out = run({"payload": payload, "recipients": recipients, "users": None})
    assert out["payload"] == {
        "user": pseudonym_of("alice", KEY),
        "note": "from " + pseudonym_of("10.0.0.1", KEY),
        "count": 3,
    }
    assert out["recipients"] == [pseudonym_of("bob@example.com", KEY), "ops"]
    assert payload == {"user": "alice", "note": "from 10.0.0.1", "count": 3}
    assert recipients == ["bob@example.com", "ops"]


def test_personal_fields_match_case_insensitively_and_keep_their_shape() -> None:
    out = run({"User": "alice", "actor": ["bob", "carol"], "ip": 3232235777, "user_name": None})
    assert out["User"] == pseudonym_of("alice", KEY)
    assert out["actor"] == [pseudonym_of("bob", KEY), pseudonym_of("carol", KEY)]
    assert out["ip"] == pseudonym_of("3232235777", KEY)
    assert out["user_name"] is None


def test_a_pseudonym_stays_so_the_processor_can_run_twice() -> None:
    once = run({"user": "alice", "event": "from alice@example.com at 10.0.0.1"})
    assert run(once) == once


def test_configured_fields_replace_the_defaults() -> None:
    processor = LogPseudonymiser(KEY, ["customer"])
    out = processor(None, "info", {"customer": "Makler Nord", "user": "alice"})
    assert out == {"customer": pseudonym_of("Makler Nord", KEY), "user": "alice"}


def test_reidentification_finds_the_value_with_the_key_only() -> None:
    line = json.loads(log_line(KEY, user="alice", client_ip="2001:db8::7"))
    candidates = ["bob", "carol", "alice", "dave"]
    assert reidentify(line["user"], candidates, KEY) == "alice"
    assert reidentify(line["user"], candidates, OTHER_KEY) is None
    assert reidentify(line["user"], ["bob", "carol"], KEY) is None
    assert reidentify(line["client_ip"], ["10.0.0.1", "2001:DB8:0::7"], KEY) == "2001:DB8:0::7"
    assert reidentify(pseudonym_of("x@example.com", KEY.decode()), ["X@Example.com"], KEY)


def test_pseudonymise_text_replaces_addresses_only() -> None:
    text = "alice wrote from alice@example.com (192.0.2.1)"
    assert pseudonymise_text(text, KEY) == (
        f"alice wrote from {pseudonym_of('alice@example.com', KEY)} "
        f"({pseudonym_of('192.0.2.1', KEY)})"
    )


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        LogPseudonymiser(b"", FIELDS)


# -- the key reference ---------------------------------------------------------------------------


def test_key_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEITSTAND_TEST_LOG_KEY", "from-the-environment")
    assert load_key("env:LEITSTAND_TEST_LOG_KEY", tmp_path) == b"from-the-environment"
    monkeypatch.delenv("LEITSTAND_TEST_LOG_KEY")
    with pytest.raises(ConfigError, match="environment variable LEITSTAND_TEST_LOG_KEY"):
        load_key("env:LEITSTAND_TEST_LOG_KEY", tmp_path)


def test_key_file_below_the_home_is_generated_owner_only_and_read_again(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_key("file:keys/log-pseudonym.key", tmp_path)
    key = load_key("file:keys/log-pseudonym.key", tmp_path, create=True)
    path = tmp_path / "keys" / "log-pseudonym.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 64
    assert load_key("file:keys/log-pseudonym.key", tmp_path) == key


def test_a_key_file_others_can_read_is_refused_without_showing_the_key(tmp_path: Path) -> None:
    path = tmp_path / "shared.key"
    path.write_text("secret-pseudonym-key\n", encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others") as raised:
        load_key(f"file:{path}", tmp_path)
    assert "secret-pseudonym-key" not in str(raised.value)
    path.chmod(0o600)
    assert load_key(f"file:{path}", tmp_path) == b"secret-pseudonym-key"


def test_processor_from_the_policy(tmp_path: Path) -> None:
    logs = default_policy().logs
    processor = processor_for(logs, tmp_path)
    assert processor is not None
    key = (tmp_path / "keys" / "log-pseudonym.key").read_text(encoding="utf-8").strip()
    assert processor(None, "info", {"actor": "alice"}) == {"actor": pseudonym_of("alice", key)}
    without = logs.model_copy(update={"pseudonym_key": None, "no_pii": False})
    assert processor_for(without, tmp_path) is None
