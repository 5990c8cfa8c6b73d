"""The CLI's exit codes: distinct, from one enum, the same for every command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import typer

from leitstand.cli import main
from leitstand.cli_support import ExitCode


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(argv)
    code = done.value.code
    assert isinstance(code, int)
    return code


def test_the_codes_are_distinct_and_stable() -> None:
    assert {c.name: int(c) for c in ExitCode} == {
        "OK": 0,
        "FAILED": 1,
        "BAD_INPUT": 2,
        "INCOMPLETE": 3,
        "INTERNAL": 4,
        "FORBIDDEN": 5,
    }


def test_an_unexpected_exception_is_an_internal_error_4_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    def command(_app: Any) -> click.Command:
        return click.Command("leitstand", callback=broken)

    monkeypatch.setattr(typer.main, "get_command", command)
    assert _exit_code([]) == ExitCode.INTERNAL == 4
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: a bug)" in err
    assert "Traceback" not in err


def test_an_unknown_option_is_bad_input_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["incident", "list", "--no-such-option"]) == ExitCode.BAD_INPUT == 2
    assert "--no-such-option" in capsys.readouterr().err


def test_an_invalid_policy_file_is_bad_input_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "leitstand.yaml"
    bad.write_text("tenants: 5\n", encoding="utf-8")
    assert _exit_code(["policy", "validate", str(bad)]) == ExitCode.BAD_INPUT
    assert "tenants" in capsys.readouterr().err


def test_a_missing_file_is_bad_input_2(tmp_path: Path) -> None:
    assert _exit_code(["policy", "validate", str(tmp_path / "absent.yaml")]) == ExitCode.BAD_INPUT
