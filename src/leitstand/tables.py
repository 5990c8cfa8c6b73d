"""Import every domain's tables so that they are registered on ``Base.metadata``.

Alembic's environment and the schema tests import this module; a new domain adds one line.
"""

from __future__ import annotations

import leitstand.auth.store
import leitstand.ledger.store
import leitstand.scheduler.store  # noqa: F401

__all__: list[str] = []
