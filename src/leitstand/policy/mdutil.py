"""Small Markdown helpers shared by the policy's document renderers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from leitstand.policy.base import Text

__all__ = ["Words", "table", "texts"]

Words = Callable[[str, str], str]
"""Picks the German or the English wording: ``w("Frequenz", "Frequency")``."""


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Return the lines of a Markdown table; pipes inside cells are escaped."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(headers), "|" + "|".join("---" for _ in headers) + "|", *map(line, rows), ""]


def texts(items: Sequence[Text], lang: str, sep: str = ", ") -> str:
    """Join texts in one language."""
    return sep.join(item.get(lang) for item in items)
