"""``leitstand policy show|validate`` and ``leitstand init`` through Typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from leitstand.policy import default_policy, load_policy_text
from leitstand.policy.cli import app, init_command

runner = CliRunner()


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # These tests write leitstand.yaml into the working directory; never into the repository.
    work = tmp_path / "policy-cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("LEITSTAND_POLICY", raising=False)


def _main() -> typer.Typer:
    main = typer.Typer()
    main.command("init")(init_command)
    main.add_typer(app, name="policy")
    return main


def test_show_prints_the_default_policy_as_yaml_without_a_file() -> None:
    result = runner.invoke(app, ["show"])
    assert result.exit_code == 0, result.stderr
    assert load_policy_text(result.stdout) == default_policy()


def test_show_json_is_identical_across_runs_and_round_trips() -> None:
    first = runner.invoke(app, ["show", "--format", "json"])
    second = runner.invoke(app, ["show", "--format", "json"])
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout
    json.loads(first.stdout)
    assert load_policy_text(first.stdout) == default_policy()


def test_show_reads_leitstand_yaml_from_the_working_directory() -> None:
    Path("leitstand.yaml").write_text("monitoring: {metrics: {cpu: {critical: 95}}}\n")
    result = runner.invoke(app, ["show", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["monitoring"]["metrics"]["cpu"]["critical"] == 95


def test_show_reads_the_file_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy_file = tmp_path / "elsewhere.yaml"
    policy_file.write_text("alerting: {ack_timeout: 10m}\n")
    monkeypatch.setenv("LEITSTAND_POLICY", str(policy_file))
    result = runner.invoke(app, ["show", "--format", "json"])
    assert json.loads(result.stdout)["alerting"]["ack_timeout"] == "10m"


def test_show_markdown_in_english() -> None:
    result = runner.invoke(app, ["show", "--format", "md", "--lang", "en"])
    assert result.exit_code == 0
    assert result.stdout.startswith("# Operations policy\n")


def test_show_with_an_invalid_file_exits_2_with_every_issue_and_no_traceback(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("monitoring: {metrics: {cpu: {critical: 60}}}\nfoo: 1\n")
    result = runner.invoke(app, ["show", "--file", str(bad)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: invalid policy")
    assert "monitoring.metrics.cpu.critical: must be greater than warning (70) (got 60)" in (
        result.stderr
    )
    assert "unknown key 'foo'" in result.stderr
    assert "Traceback" not in result.output


def test_show_with_a_missing_file_exits_2() -> None:
    result = runner.invoke(app, ["show", "--file", "missing.yaml"])
    assert result.exit_code == 2
    assert result.stderr == "error: missing.yaml: file not found\n"


def test_validate_accepts_a_valid_file_with_one_line() -> None:
    Path("leitstand.yaml").write_text("services: {enterprise-api: {rto: 3h}}\n")
    result = runner.invoke(app, ["validate", "leitstand.yaml"])
    assert result.exit_code == 0
    assert result.stdout == "OK: leitstand.yaml is a valid leitstand policy\n"


def test_validate_prints_every_issue_on_its_own_line_and_exits_2() -> None:
    Path("leitstand.yaml").write_text(
        "monitoring:\n  metrics:\n    cpu:\n      critcal: 95\nservices:\n"
        "  enterprise-api: {rpo: 3h}\n"
    )
    result = runner.invoke(app, ["validate", "leitstand.yaml"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "leitstand.yaml:4:7: monitoring.metrics.cpu.critcal: unknown key 'critcal'; "
        "did you mean 'critical'?",
        "leitstand.yaml:6:20: services.enterprise-api.rpo: must not be longer than rto (2h) "
        "(got 3h)",
    ]


def test_validate_reports_a_syntax_error_with_line_and_column() -> None:
    Path("leitstand.yaml").write_text("services:\n  a: b\n c: d\n")
    result = runner.invoke(app, ["validate", "leitstand.yaml"])
    assert result.exit_code == 2
    assert result.stderr.startswith("leitstand.yaml:3:2: invalid YAML: ")
    assert "Traceback" not in result.output


def test_validate_reports_a_missing_file() -> None:
    result = runner.invoke(app, ["validate", "nope.yaml"])
    assert result.exit_code == 2
    assert result.stderr == "nope.yaml: file not found\n"


def test_init_writes_a_valid_starter_and_refuses_to_overwrite() -> None:
    main = _main()
    result = runner.invoke(main, ["init"])
    assert result.exit_code == 0, result.stderr
    written = Path.cwd() / "leitstand.yaml"
    assert f"wrote {written}" in result.stdout
    assert runner.invoke(main, ["policy", "validate", "leitstand.yaml"]).exit_code == 0

    written.write_text("# mine\n")
    again = runner.invoke(main, ["init"])
    assert again.exit_code == 2
    assert again.stderr == f"error: {written} already exists; use --force to overwrite it\n"
    assert written.read_text() == "# mine\n"

    forced = runner.invoke(main, ["init", "--force"])
    assert forced.exit_code == 0
    assert written.read_text() != "# mine\n"


def test_init_command_is_a_plain_callable() -> None:
    init_command()
    assert (Path.cwd() / "leitstand.yaml").is_file()
    with pytest.raises(typer.Exit) as caught:
        init_command()
    assert caught.value.exit_code == 2
