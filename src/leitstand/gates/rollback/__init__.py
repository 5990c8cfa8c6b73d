"""The database rollback test: a project's Alembic migrations, checked in a child process.

Shared by the gate check ``test.migrations`` and the release-time migrations
(``leitstand.releases.migrations``): the static check (every revision has a working
``downgrade()``), the round trip upgrade -> downgrade -> upgrade on a scratch database, and
``upgrade heads``. The project's ``env.py`` runs in ``python -m leitstand.gates.rollback.runner``,
never in leitstand's own process.

- ``check``: ``AlembicRunner`` (the parent side: child process, timeout, JSON answer).
- ``store``: the SQLAlchemy side (scratch databases, the schema of a database, its heads).
- ``runner``: the child process.
"""

from __future__ import annotations

from leitstand.gates.rollback.check import RUNNER_MODULE, AlembicRunner, MigrationTarget
from leitstand.gates.rollback.store import MigrationError, scratch_database

__all__ = [
    "RUNNER_MODULE",
    "AlembicRunner",
    "MigrationError",
    "MigrationTarget",
    "scratch_database",
]
