"""Tenants (broker houses) and leitstand's own evidence-ledger settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt
from pydantic_core import PydanticCustomError

from leitstand.policy.base import Flag, PolicyModel, unique_list
from leitstand.policy.durations import PositiveDuration
from leitstand.policy.values import describe

__all__ = ["EvidencePolicy", "TenantPolicy"]


class TenantPolicy(PolicyModel):
    """A tenant (Mandant, here a broker house) and the systems it uses."""

    name: str
    contact: str | None = None
    critical: Flag = False  # e.g. a tenant whose outage alone is reportable
    services: Annotated[list[str], AfterValidator(unique_list)] = Field(default_factory=list)
    example: Flag = False  # shipped placeholder, not a real customer
    # DORA entity type (Art. 2(1)); None: incidents.response.default_entity_type.
    entity_type: str | None = None


def _origin(value: str) -> str:
    # The origin is the first line of every signed checkpoint (C2SP signed-note format).
    if not value.strip() or "\n" in value or value != value.strip():
        raise PydanticCustomError(
            "origin", f"a non-empty single line without surrounding spaces (got {describe(value)})"
        )
    return value


class EvidencePolicy(PolicyModel):
    """Settings of leitstand's evidence ledger (not from the seed)."""

    origin: Annotated[str, AfterValidator(_origin)] = "leitstand"
    checkpoint_copy_every_entries: Annotated[StrictInt, Field(ge=1)] = 100
    checkpoint_copy_interval: PositiveDuration = timedelta(seconds=60)
    checkpoint_copy_dir: str | None = None  # None: <home>/witness
