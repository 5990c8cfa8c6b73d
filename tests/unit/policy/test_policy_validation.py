"""A user's leitstand.yaml: every mistake is reported at once, with path, line, column and words."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leitstand.errors import ConfigError, Issue, ValidationError
from leitstand.policy import check_policy_text, load_policy, validate_policy_file


def issues_in(tmp_path: Path, text: str) -> list[Issue]:
    path = tmp_path / "leitstand.yaml"
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return validate_policy_file(path)


def one_issue(tmp_path: Path, text: str) -> Issue:
    issues = issues_in(tmp_path, text)
    assert len(issues) == 1, issues
    return issues[0]


def test_critical_not_above_warning_is_reported_at_critical_with_line_and_column(
    tmp_path: Path,
) -> None:
    issue = one_issue(
        tmp_path,
        """
        monitoring:
          metrics:
            cpu:
              critical: 60
        """,
    )
    assert issue == Issue(
        path="monitoring.metrics.cpu.critical",
        message="must be greater than warning (70) (got 60)",
        line=4,
        column=7,
        source=str(tmp_path / "leitstand.yaml"),
    )
    assert str(issue).endswith("leitstand.yaml:4:7: monitoring.metrics.cpu.critical: "
                               "must be greater than warning (70) (got 60)")  # fmt: skip


def test_raising_warning_past_critical_is_reported_at_the_warning_the_user_wrote(
    tmp_path: Path,
) -> None:
    issue = one_issue(
        tmp_path,
        """
        monitoring:
          metrics:
            cpu:
              warning: 95
        """,
    )
    assert (issue.path, issue.line, issue.column) == ("monitoring.metrics.cpu.warning", 4, 7)
    assert issue.message == "must be less than critical (90) (got 95)"


def test_below_metrics_need_critical_below_warning(tmp_path: Path) -> None:
    issue = one_issue(
        tmp_path,
        """
        monitoring:
          metrics:
            certificate_expiry: {critical: 40}
        """,
    )
    assert issue.path == "monitoring.metrics.certificate_expiry.critical"
    assert issue.message == "must be less than warning (30) (got 40)"
    assert (issue.line, issue.column) == (3, 26)


def test_percentages_above_100_are_rejected(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "monitoring: {metrics: {disk: {critical: 150}}}\n")
    assert issue.path == "monitoring.metrics.disk.critical"
    assert issue.message == "a percentage between 0 and 100 (got 150)"


def test_unknown_key_suggests_the_nearest_valid_key(tmp_path: Path) -> None:
    issue = one_issue(
        tmp_path,
        """
        monitoring:
          metrics:
            cpu:
              critcal: 95
        """,
    )
    assert issue.path == "monitoring.metrics.cpu.critcal"
    assert issue.message == "unknown key 'critcal'; did you mean 'critical'?"
    assert (issue.line, issue.column) == (4, 7)


def test_unknown_top_level_key_lists_the_sections(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "monitorng: {}\n")
    assert issue.message == "unknown key 'monitorng'; did you mean 'monitoring'?"
    issues = issues_in(tmp_path, "foo: 1\n")
    assert issues[0].message.startswith("unknown key 'foo'; expected one of: services, tenants,")


def test_misspelt_row_id_suggests_the_existing_id_instead_of_listing_missing_fields(
    tmp_path: Path,
) -> None:
    issue = one_issue(tmp_path, "monitoring:\n  metrics:\n    cpuu: {critical: 95}\n")
    assert issue.path == "monitoring.metrics.cpuu"
    assert issue.message.startswith("unknown id 'cpuu'; did you mean 'cpu'?")
    assert (issue.line, issue.column) == (3, 5)


def test_wrong_types_say_what_was_expected_and_what_came(tmp_path: Path) -> None:
    issues = issues_in(
        tmp_path,
        """
        monitoring:
          metrics:
            cpu:
              critical: high
        alerting:
          require_actionable: maybe
        services: []
        incidents:
          severities:
            SEV-1: {name: 7}
        """,
    )
    assert [(i.path, i.message, i.line) for i in issues] == [
        ("monitoring.metrics.cpu.critical", "a number (got 'high')", 4),
        ("alerting.require_actionable", "true or false (got 'maybe')", 6),
        ("services", "a mapping (got [])", 7),
        ("incidents.severities.SEV-1.name", "a text, or a mapping with de and en (got 7)", 10),
    ]


def test_every_error_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    issues = issues_in(
        tmp_path,
        """
        monitoring:
          metrics:
            memory: {critical: 60}
        backups:
          schedule:
            secrets: {retention: abc}
        tenants:
          acme: {name: Acme, services: [portal]}
        deployment:
          canary: {steps: [5, 50, 25, 90]}
        evidence: {checkpoint_copy_every_entries: 0}
        """,
    )
    assert [i.path for i in issues] == [
        "monitoring.metrics.memory.critical",
        "backups.schedule.secrets.retention",
        "tenants.acme.services.0",
        "deployment.canary.steps.2",
        "deployment.canary.steps.3",
        "evidence.checkpoint_copy_every_entries",
    ]
    assert issues[1].message.startswith("a duration like 30s, 15m, 4h")
    assert issues[1].message.endswith("or 'unlimited' (got 'abc')")
    assert issues[5].message == "at least 1 (got 0)"


def test_rpo_longer_than_rto_is_inconsistent(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "services:\n  enterprise-api:\n    rpo: 3h\n")
    assert issue.path == "services.enterprise-api.rpo"
    assert issue.message == "must not be longer than rto (2h) (got 3h)"
    assert (issue.line, issue.column) == (3, 5)


def test_retention_below_the_legal_minimum_is_invalid(tmp_path: Path) -> None:
    issues = issues_in(
        tmp_path,
        """
        logs:
          retention:
            audit: {period: 4y}
            security: {period: 1000d}
            application: {period: 30d}
        """,
    )
    assert [(i.path, i.line) for i in issues] == [
        ("logs.retention.audit.period", 3),
        ("logs.retention.security.period", 4),
    ]
    assert issues[0].message == (
        "at least 5y, the legal minimum (DORA and the commercial-law retention duty (HGB)) (got 4y)"
    )
    assert issues[1].message.startswith("at least 3y, the legal minimum")


def test_exactly_the_legal_minimum_is_accepted(tmp_path: Path) -> None:
    assert issues_in(tmp_path, "logs: {retention: {audit: {period: 1825d}}}\n") == []


def test_the_legal_minimums_are_a_policy_value(tmp_path: Path) -> None:
    issues = issues_in(
        tmp_path,
        """
        logs:
          legal_minimums:
            audit: {period: 10y, reason: "§ 257 HGB, Buchungsbelege"}
        """,
    )
    assert [(i.path, i.message) for i in issues] == [
        (
            "logs.retention.audit.period",
            "at least 10y, the legal minimum (§ 257 HGB, Buchungsbelege) (got 5y)",
        )
    ]
    lowered = "logs: {legal_minimums: {audit: {period: 4y}}, retention: {audit: {period: 4y}}}\n"
    assert issues_in(tmp_path, lowered) == []


def test_debug_logs_in_production_are_invalid(tmp_path: Path) -> None:
    issue = one_issue(
        tmp_path,
        """
        logs:
          retention:
            debug:
              environments: [development, production]
        """,
    )
    assert issue.path == "logs.retention.debug.environments.1"
    assert issue.message.endswith("debug logs never run in production (got 'production')")
    assert (issue.line, issue.column) == (4, 35)


def test_real_data_outside_production_is_invalid(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "environments:\n  staging:\n    data: real\n")
    assert issue.path == "environments.staging.data"
    assert issue.message == (
        "synthetic or anonymised_copy; production data never leaves production (got 'real')"
    )


_PREVIOUS = "must be greater than the previous step"


@pytest.mark.parametrize(
    ("steps", "path", "message"),
    [
        ("[5, 50, 25, 100]", "deployment.canary.steps.2", f"{_PREVIOUS} (50) (got 25)"),
        ("[5, 5, 100]", "deployment.canary.steps.1", f"{_PREVIOUS} (5) (got 5)"),
        ("[5, 25, 50]", "deployment.canary.steps.2", "the last step must be 100 (got 50)"),
        ("[0, 100]", "deployment.canary.steps.0", "a percentage above 0 and at most 100 (got 0)"),
        ("[]", "deployment.canary.steps", "at least 1 entry (got 0)"),
    ],
)  # fmt: skip
def test_canary_steps_must_increase_strictly_and_end_at_100(
    tmp_path: Path, steps: str, path: str, message: str
) -> None:
    issue = one_issue(tmp_path, f"deployment:\n  canary:\n    steps: {steps}\n")
    assert (issue.path, issue.message) == (path, message)


def test_unknown_roles_are_rejected_and_mario_is_the_management_role(tmp_path: Path) -> None:
    issue = one_issue(
        tmp_path, "alerting:\n  levels:\n    outage:\n      notify: [devops, mario]\n"
    )
    assert issue.path == "alerting.levels.outage.notify.1"
    assert issue.message == (
        "one of devops, developer, oncall, compliance_officer, security, qa, product_owner, "
        "management, auditor (got 'mario'); Mario is the role 'management'"
    )
    assert (issue.line, issue.column) == (4, 24)


def test_misspelt_enum_values_get_a_suggestion(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "services:\n  enterprise-api: {priority: critcal}\n")
    assert (
        issue.message == "one of critical, high, normal (got 'critcal'); did you mean 'critical'?"
    )


def test_duplicate_keys_are_reported_with_the_first_line(tmp_path: Path) -> None:
    issue = one_issue(
        tmp_path,
        """
        monitoring:
          metrics:
            cpu: {critical: 95}
            cpu: {critical: 96}
        """,
    )
    assert issue.path == "monitoring.metrics.cpu"
    assert issue.message == "each key only once (got 'cpu' again; first on line 3)"
    assert (issue.line, issue.column) == (4, 5)


def test_duplicate_entries_in_a_role_list_are_rejected(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "gamedays:\n  participants: [devops, qa, devops]\n")
    assert issue.path == "gamedays.participants"
    assert issue.message == "each entry only once (got 'devops' twice)"


def test_duplicate_severity_ranks_are_rejected(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "incidents:\n  severities:\n    SEV-2: {rank: 1}\n")
    assert issue.path == "incidents.severities.SEV-2.rank"
    assert issue.message == "a rank not used by 'SEV-1' (got 1)"


def test_a_less_severe_incident_cannot_demand_a_faster_reaction(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "incidents:\n  severities:\n    SEV-2: {reaction_time: 10m}\n")
    assert issue.message == (
        "must not be shorter than the reaction time of the more severe 'SEV-1' (15m) (got 10m)"
    )


def test_references_to_unknown_services_and_environments_are_rejected(tmp_path: Path) -> None:
    issues = issues_in(
        tmp_path,
        """
        tenants:
          acme: {name: Acme AG, services: [portal]}
        gamedays:
          environments: [staging, prod]
        """,
    )
    assert [(i.path, i.message) for i in issues] == [
        (
            "tenants.acme.services.0",
            "one of the services smart-bav-portal, enterprise-api, batch-processing, "
            "internal-tools (got 'portal')",
        ),
        (
            "gamedays.environments.1",
            "one of the environments development, staging, production (got 'prod')",
        ),
    ]


def test_invalid_cron_and_licence_patterns_are_rejected(tmp_path: Path) -> None:
    issues = issues_in(
        tmp_path,
        """
        backups:
          schedule:
            files: {frequency: every day}
        pipeline:
          security: {forbidden_licences: ['GPL *']}
        """,
    )
    assert [i.path for i in issues] == [
        "backups.schedule.files.frequency",
        "pipeline.security.forbidden_licences.0",
    ]
    assert issues[0].message == (
        "a five-field cron expression such as '0 2 * * *', 'continuous' or 'on_change' "
        "(got 'every day')"
    )


def test_emergency_changes_need_a_retrospective_approver(tmp_path: Path) -> None:
    issue = one_issue(
        tmp_path, "changes:\n  categories:\n    emergency: {retrospective_approvers: []}\n"
    )
    assert issue.path == "changes.categories.emergency.retrospective_approvers"
    assert issue.message == "at least one role to approve afterwards (got [])"


def test_yaml_syntax_errors_carry_line_and_column(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "services:\n  a: b\n c: d\n")
    assert issue.path == ""
    assert (issue.line, issue.column) == (3, 2)
    assert issue.message.startswith("invalid YAML: expected <block end>")


def test_tabs_are_a_syntax_error_not_a_traceback(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "services:\n\tfoo: 1\n")
    assert (issue.line, issue.column) == (2, 1)
    assert "invalid YAML" in issue.message


def test_python_tags_are_refused(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "services: !!python/object:os.system {}\n")
    assert issue.message.startswith("invalid YAML: could not determine a constructor")


def test_a_top_level_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "- services\n- tenants\n")
    assert issue.path == ""
    assert issue.message.endswith("(got ['services', 'tenants'])")
    assert issue.message.startswith("a mapping of policy sections")
    assert (issue.line, issue.column) == (1, 1)


@pytest.mark.parametrize("text", ["", "# just a comment\n", "null\n", "---\n"])
def test_an_empty_file_means_the_defaults(tmp_path: Path, text: str) -> None:
    path = tmp_path / "leitstand.yaml"
    path.write_text(text, encoding="utf-8")
    assert validate_policy_file(path) == []
    assert load_policy(path) == load_policy(None)


def test_load_policy_raises_one_validation_error_listing_every_issue(tmp_path: Path) -> None:
    path = tmp_path / "leitstand.yaml"
    path.write_text("monitoring: {metrics: {cpu: {critical: 60}}}\nfoo: 1\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_policy(path)
    assert [i.path for i in caught.value.issues] == ["monitoring.metrics.cpu.critical", "foo"]
    assert str(caught.value).startswith(f"invalid policy {path} (2 problems):")


def test_a_missing_file_is_a_clear_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="file not found"):
        load_policy(missing)
    assert validate_policy_file(missing) == [
        Issue(path="", message="file not found", source=str(missing))
    ]


def test_a_directory_or_binary_file_is_reported_not_raised(tmp_path: Path) -> None:
    assert validate_policy_file(tmp_path)[0].message == "a file (got a directory)"
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"services: \xff\xfe\n")
    issues = validate_policy_file(binary)
    assert issues[0].message == "UTF-8 text (got a byte that is not UTF-8 at offset 10)"


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    policy, issues = check_policy_text("\n".join(lines) + "\n")
    assert policy is None
    assert issues[0].message.startswith("at most 100000 values after expanding aliases")


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True), st.text(max_size=8)
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["cpu", "critical", "warning", "name", "rto", "steps", "x"]),
            children,
            max_size=3,
        ),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["services", "monitoring", "tenants", "logs", "deployment", "evidence"]),
        _values,
        max_size=3,
    )
)
def test_no_input_makes_validation_raise(data: dict[str, object]) -> None:
    import yaml

    policy, issues = check_policy_text(yaml.safe_dump(data), source="fuzz.yaml")
    assert (policy is None) == bool(issues)
    for issue in issues:
        assert isinstance(issue.message, str)
        assert issue.message


def test_flipping_a_metrics_direction_is_reported_at_the_direction(tmp_path: Path) -> None:
    issue = one_issue(tmp_path, "monitoring:\n  metrics:\n    cpu: {direction: below}\n")
    assert issue.path == "monitoring.metrics.cpu.direction"
    assert issue.message == "'above' for warning 70 and critical 90 (got 'below')"


def test_required_gates_name_known_environments_and_stages(tmp_path: Path) -> None:
    issues = issues_in(
        tmp_path,
        """
        pipeline:
          deployment:
            required_gates:
              prod: [build]
        """,
    )
    assert [(i.path, i.message) for i in issues] == [
        (
            "pipeline.deployment.required_gates.prod",
            "one of the environments development, staging, production (got 'prod')",
        )
    ]
    stages = issues_in(
        tmp_path,
        """
        changes:
          categories:
            emergency: {gates_may_follow: [approval]}
        """,
    )
    assert [i.path for i in stages] == ["changes.categories.emergency.gates_may_follow.0"]


WRITABLE_KUBERNETES_START = """
deployment:
  releases:
    enterprise-api:
      start:
        kind: kubernetes
        image: registry.example/{service}
        output_dir: k8s
        read_only_root_filesystem: false
      environments:
        production:
          router: {kind: kubernetes, service: enterprise-api, output_dir: k8s}
          instances: {blue: {port: 8081}, green: {port: 8082}}
"""


def test_a_writable_kubernetes_container_needs_a_recorded_read_only_decision(
    tmp_path: Path,
) -> None:
    where = "deployment.releases.enterprise-api.start.read_only_root_filesystem"
    undecided = one_issue(tmp_path, WRITABLE_KUBERNETES_START)
    assert (undecided.path, undecided.line) == (where, 8)
    assert undecided.message == (
        "true, or a recorded decision for container 'enterprise-api' in "
        "gates.containers.read_only (enterprise-api: {read_only: false, reason: ...}) "
        "(got false with no decision)"
    )
    # A decision that the container is read-only contradicts it; the most specific pattern wins.
    contradicted = one_issue(
        tmp_path,
        WRITABLE_KUBERNETES_START
        + "gates:\n  containers:\n    read_only:\n"
        + "      '*': {read_only: false, reason: legacy}\n      enterprise-*: true\n",
    )
    assert contradicted.path == where
    assert contradicted.message == (
        "true: gates.containers.read_only['enterprise-*'] decides container 'enterprise-api' "
        "has a read-only root filesystem (got false)"
    )
    # Reported together with a mistake in another section, which is checked on its own.
    both = issues_in(tmp_path, WRITABLE_KUBERNETES_START + "monitoring: {metrics: {cpu: 1}}\n")
    assert where in [i.path for i in both] and len(both) == 2


def test_a_writable_kubernetes_container_with_its_decision_is_valid(tmp_path: Path) -> None:
    decided = WRITABLE_KUBERNETES_START + (
        "gates:\n  containers:\n    read_only:\n"
        "      ENTERPRISE-API: {read_only: false, reason: writes its cache below /app}\n"
        "      enterprise-*: true\n"
    )
    assert issues_in(tmp_path, decided) == []
    # A read-only start needs no decision.
    assert issues_in(tmp_path, WRITABLE_KUBERNETES_START.replace("false", "true")) == []
