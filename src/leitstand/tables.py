"""Import every domain's tables so that they are registered on ``Base.metadata``.

Alembic's environment and the schema tests import this module; a new domain adds one line.
"""

from __future__ import annotations

import leitstand.alerting.store
import leitstand.auth.store
import leitstand.backups.store
import leitstand.changes.store
import leitstand.flags.store
import leitstand.gates.store
import leitstand.incidents.store
import leitstand.ledger.store
import leitstand.ledger.verifications
import leitstand.releases.store
import leitstand.scheduler.store  # noqa: F401

__all__: list[str] = []
