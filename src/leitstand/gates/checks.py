"""What a check is: a small callable returning a typed result, with its switch and its tools."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from leitstand.gates.context import GateContext
from leitstand.gates.model import CheckResult, Stage

__all__ = ["Check", "Preflight"]

Preflight = Callable[[GateContext], None]


def _always(_ctx: GateContext) -> str | None:
    return None


def _nothing(_ctx: GateContext) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Check:
    """One gate check.

    Args:
        id: ``stage.name``, stable across releases (JUnit, SARIF and the ledger use it).
        title: German and English titles for the summary.
        run: the check itself; raises ToolFailure when a tool breaks (the check then fails).
        disabled: returns why the policy switches the check off, or None.
        preflight: raises ConfigError (exit 2) when a tool the check needs is missing.
    """

    id: str
    title: tuple[str, str]
    run: Callable[[GateContext], CheckResult]
    disabled: Callable[[GateContext], str | None] = _always
    preflight: Preflight = _nothing

    @property
    def stage(self) -> Stage:
        return Stage(self.id.split(".", 1)[0])

    def label(self, lang: str) -> str:
        return self.title[1] if lang == "en" else self.title[0]
