"""Wire schemas of the release API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AbortIn", "ApproveIn", "ReleaseIn", "RollbackIn", "TaskDoneIn"]


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=200, examples=["enterprise-api"])
    version: str = Field(min_length=1, max_length=100, examples=["2.4.0"])
    env: str = Field(min_length=1, max_length=64, examples=["staging"])
    strategy: str | None = Field(default=None, examples=["blue-green", "canary"])
    artifact_digest: str | None = Field(
        default=None,
        max_length=100,
        description="sha256 of the artifact deployed, as a passing gate run recorded it",
        examples=["sha256:" + "0" * 64],
    )


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=2_000)


class AbortIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2_000)


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=200)
    env: str = Field(default="production", min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2_000)


class TaskDoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=10_000)
