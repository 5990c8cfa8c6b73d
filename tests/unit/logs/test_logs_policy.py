"""The policy's pseudonym key reference and personal fields."""

from __future__ import annotations

from pathlib import Path

from leitstand.errors import Issue
from leitstand.policy import check_policy_text, default_policy, load_policy


def issues_in(text: str) -> list[Issue]:
    return check_policy_text(text, source="leitstand.yaml")[1]


def test_defaults_name_a_key_file_and_the_personal_fields() -> None:
    logs = default_policy().logs
    assert logs.no_pii
    assert logs.pseudonym_key == "file:keys/log-pseudonym.key"
    assert {"user", "actor", "username", "email", "client_ip", "remote_addr"} <= set(
        logs.pseudonymise_fields
    )


def test_a_bad_key_reference_is_reported_with_its_path() -> None:
    for bad in ("s3cr3t-key-itself", "env:lower_case", "file:", "vault:x"):
        issues = issues_in(f"logs:\n  pseudonym_key: '{bad}'\n")
        assert [i.path for i in issues] == ["logs.pseudonym_key"], bad
        assert "env:VARIABLE or file:/path/to/key" in issues[0].message


def test_no_pii_needs_a_key() -> None:
    issues = issues_in("logs:\n  pseudonym_key: null\n")
    assert [i.path for i in issues] == ["logs.pseudonym_key"]
    assert "while no_pii is true" in issues[0].message
    assert issues_in("logs:\n  pseudonym_key: null\n  no_pii: false\n") == []


def test_field_names_are_checked_lower_cased_and_unique(tmp_path: Path) -> None:
    issues = issues_in("logs:\n  pseudonymise_fields: [user, 'bad name']\n")
    assert [i.path for i in issues] == ["logs.pseudonymise_fields.1"]
    issues = issues_in("logs:\n  pseudonymise_fields: [user, User]\n")
    assert [i.path for i in issues] == ["logs.pseudonymise_fields"]
    path = tmp_path / "leitstand.yaml"
    path.write_text(
        "logs:\n  pseudonym_key: env:LOG_KEY\n  pseudonymise_fields: [Customer, user]\n",
        encoding="utf-8",
    )
    logs = load_policy(path).logs
    assert logs.pseudonym_key == "env:LOG_KEY"
    assert logs.pseudonymise_fields == ["customer", "user"]
