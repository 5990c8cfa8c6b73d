"""Feature flags per tenant: targeting, sticky rollouts, kill switch, OpenFeature provider."""

from __future__ import annotations

__all__: list[str] = []
