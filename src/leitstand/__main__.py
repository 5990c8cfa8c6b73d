from __future__ import annotations

from leitstand.cli import main

main()
