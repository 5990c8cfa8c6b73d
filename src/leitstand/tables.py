"""Import every domain's tables so that they are registered on ``Base.metadata``.

Alembic's environment and the schema tests import this module; the modules come from the
registry of domains (``leitstand.domains``), so a new domain adds no line here.
"""

from __future__ import annotations

import importlib

from leitstand.domains import DOMAINS

__all__: list[str] = []

for _domain in DOMAINS:
    for _module in _domain.tables:
        importlib.import_module(_module)
