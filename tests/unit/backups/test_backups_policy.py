"""The policy's backup section: systems, sites, keys by reference only, drills, monitoring."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leitstand.errors import ValidationError
from leitstand.policy import default_policy, load_policy_text, render_policy

CONFIGURED = """
backups:
  systems:
    enterprise-api:
      database:
        data_dir: /var/lib/postgresql/15/main
        dbname: enterprise
        invariants:
          - {name: contracts, sql: "SELECT count(*) FROM contracts", min: 1}
        pitr_check: {table: app.audit_log}
      files: {paths: [/srv/uploads]}
      configuration: {git_repository: /srv/config}
      secrets: {directory: /etc/enterprise/secrets}
  sites:
    primary: {path: /backup/rz1, name: RZ Hamburg}
    secondary: {path: /backup/rz2, name: Sekundäres RZ Berlin}
  keys:
    pgbackrest: env:PGBR_CIPHER
    restic: file:/etc/leitstand/restic.key
"""


def test_the_seed_configures_no_system_but_names_sites_keys_and_drills() -> None:
    backups = default_policy().backups
    assert backups.systems == {}
    assert backups.sites.secondary.name.de == "Sekundäres RZ DE"
    assert backups.keys.pgbackrest == "file:keys/pgbackrest.key"
    assert backups.drills.pitr_target_age == timedelta(hours=3)
    assert backups.monitoring.rpo_interval == timedelta(seconds=60)


def test_a_configured_system_loads_and_renders_back() -> None:
    policy = load_policy_text(CONFIGURED)
    system = policy.backups.systems["enterprise-api"]
    assert system.database is not None and system.database.port == 5432
    assert system.database.os_user == "postgres"
    assert system.database.pitr_check is not None
    assert system.database.pitr_check.time_column == "created_at"
    assert policy.backups.keys.pgbackrest == "env:PGBR_CIPHER"
    assert load_policy_text(render_policy(policy, "yaml")) == policy


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (
            "backups: {systems: {crm: {files: {paths: [/x]}}}}",
            "backups.systems.crm",
            "one of the services",
        ),
        ("backups: {keys: {restic: s3cr3t}}", "backups.keys.restic", "env:VARIABLE or file:"),
        ("backups: {keys: {restic: 'env:lower'}}", "backups.keys.restic", "env:VARIABLE"),
        ("backups: {keys: {restic: 'file:'}}", "backups.keys.restic", "file:/path/to/key"),
        (
            "backups: {systems: {enterprise-api: {database: "
            "{data_dir: /d, invariants: [{name: x, sql: 'SELECT 1'}]}}}}",
            "backups.systems.enterprise-api.database.invariants.0.expect",
            "at least one of expect, min or max",
        ),
        (
            "backups: {systems: {enterprise-api: {database: "
            "{data_dir: /d, pitr_check: {table: 'x; drop'}}}}}",
            "backups.systems.enterprise-api.database.pitr_check.table",
            "a SQL name",
        ),
        ("backups: {drills: {check: 'at five'}}", "backups.drills.check", "five-field cron"),
        (
            "backups: {systems: {enterprise-api: {files: {paths: []}}}}",
            "backups.systems.enterprise-api.files.paths",
            "",
        ),
    ],
)
def test_mistakes_in_the_backup_section_name_their_field(
    text: str, path: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        load_policy_text(text)
    assert any(i.path == path and message in i.message for i in caught.value.issues), caught.value
