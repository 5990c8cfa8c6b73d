"""Short constructors that keep the seed's tables readable as tables."""

from __future__ import annotations

from datetime import timedelta

from leitstand.policy.base import Text

__all__ = ["days", "hours", "minutes", "seconds", "t"]


def t(de: str, en: str) -> Text:
    """A text in German and English."""
    return Text(de=de, en=en)


def seconds(n: int) -> timedelta:
    """``n`` seconds."""
    return timedelta(seconds=n)


def minutes(n: int) -> timedelta:
    """``n`` minutes."""
    return timedelta(minutes=n)


def hours(n: int) -> timedelta:
    """``n`` hours."""
    return timedelta(hours=n)


def days(n: int) -> timedelta:
    """``n`` days."""
    return timedelta(days=n)
