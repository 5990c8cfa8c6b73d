"""Which versions are good to go back to: the release history of one service and environment.

A rollback (automatic or manual) always goes to the last version that *completed* (all traffic
reached it and the release finished) and was not itself rolled back afterwards. A version whose
release was rolled back, or that a manual rollback took traffic away from, is never a target
again (until a later release of it completes).
"""

from __future__ import annotations

from collections.abc import Collection

from leitstand.db import Session
from leitstand.releases.model import Kind, Phase
from leitstand.releases.store import version_history

__all__ = ["good_versions", "previous_good"]


def good_versions(session: Session, service: str, env: str) -> list[str]:
    """Versions that completed and were not rolled back since, oldest first."""
    good: list[str] = []
    for version, kind, phase, stable_version in version_history(session, service, env):
        if phase == Phase.COMPLETED.value:
            if kind == Kind.ROLLBACK.value and stable_version in good:
                good.remove(stable_version)  # the version this rollback took traffic away from
            if version in good:
                good.remove(version)
            good.append(version)
        elif phase == Phase.ROLLED_BACK.value and version in good:
            good.remove(version)
    return good


def previous_good(
    session: Session, service: str, env: str, *, exclude: Collection[str | None] = ()
) -> str | None:
    """The newest good version that is not in ``exclude`` (the serving one, the rejected one)."""
    for version in reversed(good_versions(session, service, env)):
        if version not in exclude:
            return version
    return None
