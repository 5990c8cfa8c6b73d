"""The ledger's witnesses and pinned keys (``ledger`` section; leitstand's own, not the seed's)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from leitstand.errors import ConfigError
from leitstand.policy.base import PolicyModel
from leitstand.policy.values import describe
from leitstand.policy.vkeys import parse_any_key, parse_witness_key

__all__ = ["LedgerPolicy", "WitnessPolicy"]


def _witness_key(value: str) -> str:
    try:
        parse_witness_key(value)
    except ConfigError as exc:
        raise PydanticCustomError(
            "witness_key",
            f"a witness verifier key <name>+<key id>+<base64(0x04 || key)> "
            f"as `leitstand witness key` prints it ({exc})",
        ) from None
    return value.strip()


def _any_key(value: str) -> str:
    try:
        parse_any_key(value)
    except ConfigError as exc:
        raise PydanticCustomError(
            "trusted_key", f"a log or witness verifier key in vkey format ({exc})"
        ) from None
    return value.strip()


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise PydanticCustomError(
            "witness_url",
            f"an http(s) URL of the witness's submission prefix (got {describe(value)})",
        )
    return value.rstrip("/")


class WitnessPolicy(PolicyModel):
    """One C2SP tlog-witness: a name, its submission URL and its cosigning key."""

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]
    url: Annotated[str, AfterValidator(_url)]
    key: Annotated[str, AfterValidator(_witness_key)]


class LedgerPolicy(PolicyModel):
    """Witnesses every kept checkpoint is sent to, and the keys verification pins."""

    witnesses: list[WitnessPolicy] = Field(default_factory=list)
    trusted_keys: list[Annotated[str, AfterValidator(_any_key)]] = Field(default_factory=list)
    witness_overdue_minutes: Annotated[StrictInt, Field(ge=1)] = 15
    witness_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 5.0

    @model_validator(mode="after")
    def _unique_names(self) -> LedgerPolicy:
        names = [w.name for w in self.witnesses]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise PydanticCustomError(
                "witness_names", f"witness names must be unique (repeated: {', '.join(doubled)})"
            )
        return self
