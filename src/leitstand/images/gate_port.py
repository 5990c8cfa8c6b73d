"""What image signing needs from the quality gates, named here so images does not import them.

Images sit below gates in the layers (``.importlinter``). ``ImageService.sign`` signs only an
image that a passed gate run vouches for, and reads that run from the gates' own record
(``gate_runs``, written only by ``GateService.record``), never from a ledger payload or a free
number. ``GateService.recorded_run`` implements ``GateRunLookup`` structurally; images' wiring
(``leitstand.images.wiring``, registered after gates in ``leitstand.domains``) passes it in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

__all__ = ["PASSED", "GateRun", "GateRunLookup"]

#: A gate run's outcome when no stage failed (``leitstand.gates.model.Status.PASS``).
PASSED = "pass"


class GateRun(Protocol):
    """A recorded gate run as image signing reads it (``leitstand.gates.store.GateRunRecord``)."""

    @property
    def id(self) -> int: ...

    @property
    def status(self) -> str:
        """The run's outcome: pass, fail or skip."""
        ...

    @property
    def service(self) -> str: ...

    @property
    def stages(self) -> Mapping[str, str]:
        """Each stage the run ran, with its outcome (pass, fail or skip)."""
        ...

    @property
    def not_run(self) -> Sequence[str]:
        """The stages the run left out (``--stage``); empty for a complete run."""
        ...

    @property
    def version(self) -> str:
        """The version the run checked (an image of it is tagged with exactly this)."""
        ...

    @property
    def ledger_index(self) -> int | None:
        """The index of the run's ``gate.run`` evidence entry."""
        ...

    def image_sbom(self, manifest_digest: str) -> str | None:
        """The SBOM digest the run's image scan recorded for that image (None: not scanned)."""
        ...


class GateRunLookup(Protocol):
    """Finds the gates' own record of a run by its id (None if there is none)."""

    def __call__(self, run_id: int) -> GateRun | None: ...
