"""Wire schemas of the change API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ChangeIn", "DecisionIn"]


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=200, examples=["enterprise-api"])
    version: str = Field(min_length=1, max_length=100, examples=["2.4.0"])
    category: str = Field(min_length=1, max_length=64, examples=["normal"])
    what: str = Field(default="", max_length=10_000)
    why: str = Field(default="", max_length=10_000)
    rollback: str = Field(default="", max_length=10_000)
    tests: str = Field(default="", max_length=10_000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=2_000)
