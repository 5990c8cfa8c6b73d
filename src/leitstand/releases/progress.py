"""What a release command shows while it follows a release: the live step, weights, analysis
and health (a Rich display on stderr), or the release's evidence as JSON lines (``--json``).

The CLI fires the release's timers in its own process (``leitstand.releases.cli.follow``); after
each round it asks ``Progress.update`` for the new state: the display is redrawn, and every new
ledger entry of the release becomes one event line ``{"event": "release.analysed", ...}``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import RenderableType
from rich.table import Table

from leitstand.releases.model import Phase, ReleaseInfo
from leitstand.releases.queries import ReleaseQueries

__all__ = ["Progress", "render"]


@dataclass
class Progress:
    """The state shown for one followed release; ``events`` streams JSON lines to ``out``."""

    releases: ReleaseQueries
    release_id: int
    steps: list[float]
    events: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    seen: int = -1  # the newest ledger index already streamed
    weights: dict[str, int] = field(default_factory=dict)
    analysis: str | None = None

    def update(self, info: ReleaseInfo) -> None:
        """Read the weights, the newest analysis and new evidence of the release."""
        for target in self.releases.targets():
            if (target.service, target.env) == (info.service, info.env):
                self.weights = {s: target.routing.weight(s) for s in sorted(target.routing.weights)}
        entries = self.releases.timeline_entries(self.release_id)
        for entry in [e for e in entries if e.index > self.seen]:
            self.seen = max(self.seen, entry.index)
            if entry.action == "release.analysed":
                payload = entry.payload
                self.analysis = (
                    f"step {payload.get('step')} at {payload.get('percent')} %: "
                    f"{payload.get('verdict')}: {'; '.join(payload.get('reasons') or [])}"
                )
            if self.events:
                line = {
                    "event": entry.action,
                    "release_id": self.release_id,
                    **entry.model_dump(mode="json"),
                }
                self.out.write(json.dumps(line, sort_keys=True, default=str) + "\n")
                self.out.flush()

    def view(self, info: ReleaseInfo) -> RenderableType:
        return render(info, self.weights, self.analysis, self.steps)


def _step(info: ReleaseInfo, weights: dict[str, int], steps: list[float]) -> str:
    share = weights.get(info.target_slot, 0)
    if info.strategy == "canary" and info.phase in (Phase.SWITCHING, Phase.ANALYSING, Phase.PAUSED):
        return f"canary step {info.step + 1}/{len(steps)}, {info.target_slot} at {share} %"
    return f"{info.target_slot} at {share} %"


def render(
    info: ReleaseInfo, weights: dict[str, int], analysis: str | None, steps: list[float]
) -> RenderableType:
    """The live display: phase, step and weight, analysis, health, rollback time."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    title = (
        f"release #{info.id} {info.service} {info.version} "
        f"({info.env}, {info.strategy.replace('_', '-')}, {info.kind})"
    )
    table.add_row("release", title)
    table.add_row("phase", info.phase.value)
    table.add_row("step", _step(info, weights, steps))
    if weights:
        table.add_row("weights", ", ".join(f"{s} {w} %" for s, w in weights.items()))
    table.add_row("analysis", analysis or "-")
    table.add_row("health", info.last_check or "-")
    if info.rollback_seconds is not None:
        table.add_row("rollback", f"{info.rollback_seconds:.3f} s")
    if info.reason:
        table.add_row("reason", info.reason)
    return table
