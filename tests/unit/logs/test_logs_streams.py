"""The log types from the policy (retention joined with streams) and the engines' config text."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from leitstand.errors import Issue
from leitstand.logs.model import Paths, log_types, logrotate_config, rsyslog_config
from leitstand.policy import default_policy, load_policy, validate_policy_file
from leitstand.policy.base import Role
from leitstand.policy.log_streams import Rotation

PATHS = Paths(
    directory=Path("/var/log/leitstand"),
    pid_file=Path("/run/leitstand/rsyslogd.pid"),
    work_directory=Path("/var/spool/leitstand"),
    port=10514,
)


def issues_in(tmp_path: Path, text: str) -> list[Issue]:
    path = tmp_path / "leitstand.yaml"
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return validate_policy_file(path)


def test_the_seed_types_have_retention_streams_and_readers() -> None:
    types = {t.key: t for t in log_types(default_policy().logs)}
    assert {k: t.retention_days for k, t in types.items()} == {
        "audit": 1825,
        "security": 1095,
        "application": 90,
        "access": 90,
        "performance": 365,
        "debug": 14,
    }
    assert types["audit"].stream.readers == [Role.COMPLIANCE_OFFICER, Role.AUDITOR]
    assert Role.DEVELOPER not in types["security"].stream.readers
    assert types["access"].stream.rotation is Rotation.SIZE
    assert {k for k, t in types.items() if t.record_reads} == {"audit", "security"}
    assert not any(t.stream.legal_hold for t in types.values())


def test_debug_logs_are_never_written_in_production() -> None:
    keys = [t.key for t in log_types(default_policy().logs, environment="production")]
    assert "debug" not in keys and "audit" in keys
    assert "debug" in [t.key for t in log_types(default_policy().logs, environment="staging")]


def test_a_type_without_a_stream_gets_a_derived_one(tmp_path: Path) -> None:
    path = tmp_path / "leitstand.yaml"
    path.write_text(
        "logs:\n  retention:\n    billing:\n      name: Billing\n      period: 10y\n"
        "      reason: HGB\n      environments: [production]\n"
        "  streams:\n    types:\n      audit:\n        legal_hold: true\n",
        encoding="utf-8",
    )
    logs = load_policy(path).logs
    types = {t.key: t for t in log_types(logs)}
    assert types["billing"].stream.file == "billing.log"
    assert types["billing"].stream.readers == logs.access_roles
    assert types["audit"].stream.legal_hold
    assert types["audit"].stream.readers == [Role.COMPLIANCE_OFFICER, Role.AUDITOR]


def test_bad_stream_settings_are_reported_with_their_path(tmp_path: Path) -> None:
    issues = issues_in(
        tmp_path,
        """
        logs:
          streams:
            port: 70000
            types:
              audit: {file: ../etc/passwd}
              access: {max_size: lots}
        """,
    )
    assert sorted(i.path for i in issues) == [
        "logs.streams.port",
        "logs.streams.types.access.max_size",
        "logs.streams.types.audit.file",
    ]
    issues = issues_in(tmp_path, "logs:\n  streams:\n    types:\n      debug: {file: audit.log}\n")
    assert [i.path for i in issues] == ["logs.streams.types.debug.file"]
    assert "already the audit stream" in issues[0].message


def test_rsyslog_routes_by_log_type_then_program_and_writes_one_file_per_type() -> None:
    text = rsyslog_config(log_types(default_policy().logs), PATHS)
    assert 'input(type="imtcp" address="127.0.0.1" port="10514" ruleset="leitstand")' in text
    assert 'if $!log_type == "audit" then { set $.type = "audit"; }' in text
    assert 'if $app-name == "haproxy" or $app-name == "nginx" then' in text
    assert 'set $.type = "application";' in text
    for name in ("audit", "security", "application", "access", "performance", "debug"):
        assert f'file="/var/log/leitstand/{name}.log" template="leitstand_json"' in text
    # RainerScript only: no legacy $-directives.
    assert not [line for line in text.splitlines() if line.lstrip().startswith("$")]


def test_logrotate_has_one_stanza_per_type_with_dated_uncompressed_segments() -> None:
    text = logrotate_config(log_types(default_policy().logs), PATHS)
    assert text.count("{\n") == 6
    audit = text.split("/var/log/leitstand/audit.log {")[1].split("}")[0]
    assert "daily" in audit and "dateext" in audit and "nocompress" in audit
    access = text.split("/var/log/leitstand/access.log {")[1].split("}")[0]
    assert "size 100M" in access
    assert "/run/leitstand/rsyslogd.pid" in text and "kill -HUP" in text
    assert "rm " not in text
