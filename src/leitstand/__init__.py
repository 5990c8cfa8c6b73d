"""leitstand: an operations control plane that turns an operations policy into running controls."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
