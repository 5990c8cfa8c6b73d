"""CSV exports neutralise formula injection (OWASP): hostile cells arrive as text."""

from __future__ import annotations

import csv
import io

import pytest

from leitstand.auth.model import Actor
from leitstand.bootstrap import Container
from leitstand.csvexport import safe_cell, to_csv

SYSTEM = Actor(name="leitstand", role="system")


@pytest.mark.parametrize(
    "hostile",
    ['=HYPERLINK("http://evil")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\tx", "\rx"],
)
def test_a_cell_starting_like_a_formula_gets_an_apostrophe(hostile: str) -> None:
    assert safe_cell(hostile) == "'" + hostile
    [_header, row] = list(csv.reader(io.StringIO(to_csv(["cell"], [[hostile]]), newline="")))
    assert row == ["'" + hostile]


def test_ordinary_cells_and_numbers_are_unchanged() -> None:
    assert [safe_cell(v) for v in ("2.4.0", "a=b", "", None, -5, 1.5)] == [
        "2.4.0", "a=b", "", "", -5, 1.5,
    ]  # fmt: skip
    assert to_csv(["a", "b"], [[1, "x, y"]]) == 'a,b\n1,"x, y"\n'


def test_the_change_log_export_neutralises_a_hostile_cell(container: Container) -> None:
    with container.db.transaction() as session:
        container.changes.record_rollback(
            session, change_id=None, service='=HYPERLINK("http://evil","klick")',
            version="1.0", env="production", release_id=3, reason="@SUM(1)", automatic=False,
            actor=SYSTEM,
        )  # fmt: skip
    rows = list(csv.reader(io.StringIO(container.changes.export_log("csv"))))
    [row] = [r for r in rows[1:] if r[6] == "change.rolled_back"]
    assert row[3] == '\'=HYPERLINK("http://evil","klick")'
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)
