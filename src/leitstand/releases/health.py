"""Health checks and smoke tests of one slot, straight at the instance (not via the router)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

__all__ = ["Probe", "probe", "smoke"]


@dataclass(frozen=True, slots=True)
class Probe:
    ok: bool
    detail: str  # "HTTP 200", "HTTP 503", "connection refused", ...


def probe(url: str, *, timeout: float) -> Probe:
    """GET ``url``: healthy on a 2xx answer within ``timeout``."""
    try:
        answer = httpx.get(url, timeout=timeout, follow_redirects=False)
    except httpx.TimeoutException:
        return Probe(False, f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        if "refused" in reason.lower():
            reason = "connection refused"
        return Probe(False, reason)
    return Probe(200 <= answer.status_code < 300, f"HTTP {answer.status_code}")


def smoke(base_url: str, paths: Sequence[str], *, timeout: float) -> list[str]:
    """Smoke tests: every path answers 2xx or 3xx; returns the failures."""
    failures: list[str] = []
    for path in paths:
        try:
            answer = httpx.get(base_url + path, timeout=timeout, follow_redirects=False)
        except httpx.HTTPError as exc:
            failures.append(f"{path}: {str(exc) or type(exc).__name__}")
            continue
        if not 200 <= answer.status_code < 400:
            failures.append(f"{path}: HTTP {answer.status_code}")
    return failures
