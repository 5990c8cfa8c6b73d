"""The terminal report shows why a test failed, not only that it did."""

from __future__ import annotations

from leitstand.gates.cli import _detail_lines


def test_pytest_error_lines_are_shown_first() -> None:
    detail = (
        "    def test_x():\n>       assert f() == 2\nE       assert 1 == 2\n"
        "E        +  where 1 = f()\n\ntests/test_x.py:3: AssertionError"
    )
    assert _detail_lines(detail) == ["E       assert 1 == 2", "E        +  where 1 = f()"]


def test_without_error_lines_the_last_line_is_shown() -> None:
    assert _detail_lines("Traceback\n  ...\nTimeoutError: engine did not start\n") == [
        "TimeoutError: engine did not start"
    ]


def test_no_detail_shows_nothing() -> None:
    assert _detail_lines(None) == [] and _detail_lines("  \n") == []
