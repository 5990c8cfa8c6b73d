"""CSV exports that a spreadsheet cannot turn into formulas (OWASP CSV injection).

Every CSV leitstand writes goes through :func:`to_csv`. A text cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe, so Excel, LibreOffice
and Google Sheets show it as text instead of evaluating it (``=HYPERLINK(...)``, ``@SUM(...)``,
DDE). Numbers written as numbers stay numbers; quoting is left to the csv module.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

__all__ = ["FORMULA_PREFIXES", "safe_cell", "to_csv"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """The cell as written: text starting like a formula is prefixed with ``'``."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document (``\\n`` line ends) with ``header`` and ``rows``, every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # With "\n" line ends the csv module leaves a lone CR unquoted, which readers take for a
    # line break: a row with one is written fully quoted.
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in [header, *rows]:
        cells = [safe_cell(c) for c in row]
        has_cr = any(isinstance(c, str) and "\r" in c for c in cells)
        (quoted if has_cr else writer).writerow(cells)
    return out.getvalue()
